"""The workspace as a desk (issue: transfer, canned responses, typing, send box), in Chromium."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_workspace import new_agent, open_workspace, start_chat
from tests.conftest import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.live]

LINES = 20


def serving_maria(browser, base_url: str, desk, first: str):
    """Alice's workspace with Maria's new chat open in it (auto mode), and Maria's page."""
    desk.service_mode = "auto"
    desk.save()
    agent = open_workspace(browser, base_url, new_agent("Alice"))
    customer = start_chat(browser, base_url, "Maria", first)
    agent.locator("#sessions li").click()
    return agent, customer


def type_fast(page, lines: list[str]) -> None:
    """Each line typed and sent with Enter, as fast as the browser takes keys."""
    box = page.locator("#body")
    box.focus()
    for line in lines:
        page.keyboard.type(line)
        page.keyboard.press("Enter")


def test_lines_typed_while_the_server_answers_all_arrive_in_order_both_ways(
    browser, live_server_url, desk, shot
):
    # Given an agent serving a customer (auto mode: no offer to accept)
    desk.service_mode = "auto"
    desk.save()
    alice = new_agent("Alice")
    agent = open_workspace(browser, live_server_url, alice)
    customer = start_chat(browser, live_server_url, "Quentin", "hello")
    expect(agent.locator("#sessions li")).to_have_text("Quentin")

    # When the customer types 20 lines as fast as the keyboard goes
    sent = [f"customer line {i:02d}" for i in range(LINES)]
    type_fast(customer, sent)

    # Then every one reaches the agent, in order, and the box ends empty
    log = agent.locator("#log li.customer .body")
    expect(log).to_have_count(LINES + 1, timeout=15000)
    assert log.all_inner_texts() == ["hello", *sent]
    expect(customer.locator("#body")).to_have_value("")

    # And the same from the agent's side
    replies = [f"agent line {i:02d}" for i in range(LINES)]
    type_fast(agent, replies)
    got = customer.locator("#log li.agent .body")
    expect(got).to_have_count(LINES, timeout=15000)
    assert got.all_inner_texts() == replies
    expect(agent.locator("#body")).to_have_value("")
    shot(agent, "agent-after-fast-typing")
    shot(customer, "customer-after-fast-typing")


def transfer(page, to: str, note: str, shot=None) -> None:
    """In the open chat: Transfer, pick `to` (an agent's name), write the note, send."""
    page.click("#transfer-chat")
    dialog = page.locator("#transfer-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("#transfer-agents label", has_text=to).click()
    page.fill("#transfer-note", note)
    if shot is not None:
        shot(page, "transfer-dialog")
    page.click("#transfer-send")
    expect(dialog).to_be_hidden()


def test_transfer_with_a_note_accepted_then_another_declined(browser, live_server_url, desk, shot):
    # Given Alice serving Maria (auto mode), and Bob online
    desk.service_mode = "auto"
    desk.accept_timeout_seconds = 30
    desk.save()
    alice = new_agent("Alice")
    page_a = open_workspace(browser, live_server_url, alice)
    customer = start_chat(browser, live_server_url, "Maria", "My invoice is wrong")
    expect(page_a.locator("#sessions li")).to_have_text("Maria")
    bob = new_agent("Bob")
    page_b = open_workspace(browser, live_server_url, bob)

    # When Alice transfers to Bob with a note
    page_a.click("#sessions li")
    transfer(page_a, "Bob", "Asks about VAT on invoice 42", shot)
    shot(page_a, "alice-transfer-pending")
    expect(page_a.locator("#transfer-pending")).to_contain_text("Waiting for Bob")

    # Then Bob's bar says who it is from, with the note and a countdown
    bar = page_b.locator("#offers .prompt.transfer")
    expect(bar).to_contain_text("Transfer from Alice")
    expect(bar).to_contain_text("Maria")
    expect(bar).to_contain_text("Asks about VAT on invoice 42")
    expect(bar.locator(".countdown")).to_have_text(re.compile(r"\d+ s"))
    shot(page_b, "bob-transfer-bar")

    # When Bob accepts, the chat leaves Alice and the customer is told who took over
    bar.locator("button.serve").click()
    expect(page_b.locator("#sessions li")).to_have_text("Maria")
    expect(page_b.locator("#log")).to_contain_text("My invoice is wrong")
    expect(page_a.locator("#sessions li")).to_have_count(0)
    expect(page_a.locator("#ended-note")).to_contain_text("Transferred to Bob")
    expect(customer.locator("#log")).to_contain_text("You are now chatting with Bob.")
    shot(customer, "customer-transfer-notice")

    # When Bob passes it back and Alice declines, Bob sees why
    transfer(page_b, "Alice", "Back to you")
    back = page_a.locator("#offers .prompt.transfer")
    expect(back).to_contain_text("Transfer from Bob")
    back.locator("button.decline").click()
    expect(page_b.locator(".toast")).to_contain_text("Alice declined the transfer.")
    expect(page_b.locator("#transfer-pending")).to_be_hidden()
    expect(page_b.locator("#sessions li")).to_have_text("Maria")
    shot(page_b, "bob-sees-decline")


def test_slash_opens_canned_responses_and_enter_inserts_one_filled_in(
    browser, live_server_url, desk, shot
):
    from canned_app.actions import canned_create

    desk.service_mode = "auto"
    desk.save()
    alice = new_agent("Alice")
    canned_create(owner=None, shortcut="refund", title="Refund times", body="Hi {customer}, "
                  "refunds take 5 days. {agent}")  # fmt: skip
    canned_create(owner=alice, shortcut="hello", title="Greeting", body="Hello {customer}!")
    page = open_workspace(browser, live_server_url, alice)
    start_chat(browser, live_server_url, "Maria", "Where is my money?")
    page.locator("#sessions li").click()

    # When Alice types "/" the list opens with both; typing filters it
    page.locator("#body").focus()
    page.keyboard.type("/")
    picker = page.locator("#canned")
    expect(picker.locator("li[role=option]")).to_have_count(2)
    page.keyboard.type("ref")
    expect(picker.locator("li[role=option]")).to_have_count(1)
    expect(picker).to_contain_text("/refund")
    shot(page, "canned-picker")

    # When she presses Enter, the body is inserted with the names filled in, not sent
    page.keyboard.press("Enter")
    expect(picker).to_be_hidden()
    expect(page.locator("#body")).to_have_value("Hi Maria, refunds take 5 days. Alice")
    expect(page.locator("#log li.agent")).to_have_count(0)

    # Esc closes the list and leaves what was typed
    page.locator("#body").fill("")
    page.keyboard.type("/he")
    expect(picker).to_be_visible()
    page.keyboard.press("Escape")
    expect(picker).to_be_hidden()
    expect(page.locator("#body")).to_have_value("/he")


def test_typing_shows_on_both_sides_and_a_read_reply_says_seen(
    browser, live_server_url, desk, shot
):
    agent, customer = serving_maria(browser, live_server_url, desk, "Hello")

    # When the customer types (without sending), the agent sees it
    customer.locator("#body").press_sequentially("I have a question about")
    expect(agent.locator("#typing")).to_have_text("Maria is typing…")
    shot(agent, "agent-sees-typing")
    # And the other way round
    agent.locator("#body").press_sequentially("Let me")
    expect(customer.locator("#typing")).to_have_text("Alice is typing…")
    shot(customer, "customer-sees-typing")

    # When the agent's reply is read on the customer's open page, the agent sees "Seen"
    agent.locator("#body").press_sequentially(" check.")
    agent.keyboard.press("Enter")
    expect(customer.locator("#log li.agent")).to_have_count(1)
    expect(customer.locator("#typing")).to_be_hidden()
    expect(agent.locator("#log li.agent .seen")).to_have_text("Seen")
    # And the customer's first line, read by the agent on screen, says "Seen" on the page
    expect(customer.locator("#log li.customer .seen")).to_have_text("Seen")
    shot(agent, "agent-sees-seen")


def test_customer_sends_an_image_the_agent_sees_the_thumbnail_and_sends_a_pdf_back(
    browser, live_server_url, desk, shot, tmp_path
):
    from tests.api.test_attachments_api import PDF, png_bytes

    agent, customer = serving_maria(browser, live_server_url, desk, "See the photo")

    # When the customer picks an image with the attach button
    photo = tmp_path / "broken-parcel.png"
    photo.write_bytes(png_bytes(96, 64))
    customer.locator("#file").set_input_files(str(photo))

    # Then both sides show it as a thumbnail that loaded (the customer's with its token)
    for page in (customer, agent):
        thumb = page.locator("#log img.thumb")
        expect(thumb).to_have_count(1, timeout=10000)
        expect(thumb).to_have_attribute("alt", "broken-parcel.png")
        # Loaded: polled from here (the page's CSP forbids the eval a polled predicate needs)
        wait_until(lambda t=thumb: t.evaluate("img => img.complete && img.naturalWidth") > 0)
    shot(agent, "agent-sees-thumbnail")

    # When the agent sends a PDF, the customer gets a download link, not an inline view
    invoice = tmp_path / "invoice.pdf"
    invoice.write_bytes(PDF)
    agent.locator("#file").set_input_files(str(invoice))
    link = customer.locator("#log a.attachment.file")
    expect(link).to_contain_text("invoice.pdf", timeout=10000)
    assert "token=" in link.get_attribute("href")
    with customer.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "invoice.pdf"
    shot(customer, "customer-sees-file-link")


DROP_JS = """
([selector, name, text]) => {
  const zone = document.querySelector(selector);
  const data = new DataTransfer();
  data.items.add(new File([text], name, { type: "text/plain" }));
  for (const kind of ["dragover", "drop"]) {
    const event = { dataTransfer: data, bubbles: true, cancelable: true };
    zone.dispatchEvent(new DragEvent(kind, event));
  }
}
"""


def test_a_file_dropped_on_the_chat_is_sent_with_its_progress_shown(browser, live_server_url, desk):
    agent, customer = serving_maria(browser, live_server_url, desk, "Here is my log")
    # Progress events are recorded as the upload goes
    customer.evaluate(
        """() => {
          window.progressSeen = false;
          new MutationObserver(() => {
            if (!document.getElementById("upload-progress").hidden) window.progressSeen = true;
          }).observe(document.getElementById("upload-progress"), { attributes: true });
        }"""
    )
    customer.evaluate(DROP_JS, ["#conversation", "error-log.txt", "line 1\nline 2\n"])
    link = agent.locator("#log a.attachment.file")
    expect(link).to_contain_text("error-log.txt", timeout=10000)
    assert customer.evaluate("window.progressSeen")
    expect(customer.locator("#upload-progress")).to_be_hidden()


def test_the_customer_rates_four_stars_and_the_agent_sees_it(browser, live_server_url, desk, shot):
    agent, customer = serving_maria(browser, live_server_url, desk, "Thanks for the help")
    agent.click("#end-chat")
    agent.click("#end-chat")
    # The customer is asked, picks the fourth star and writes a word
    rating = customer.locator("#rating")
    expect(rating).to_be_visible()
    expect(customer.locator("#stars label")).to_have_count(5)
    customer.locator("#stars label[for=score-4]").click()
    customer.fill("#rating-comment", "Quick answer")
    shot(customer, "customer-rates")
    customer.click("#rating-send")
    expect(customer.locator("#rating-thanks")).to_be_visible()
    expect(rating).to_be_hidden()
    # The agent hears it
    expect(agent.locator(".toast")).to_contain_text("Maria rated your chat 4 / 5")
    expect(agent.locator("#ended-note")).to_contain_text("rated it 4 / 5")
    shot(agent, "agent-sees-rating")
