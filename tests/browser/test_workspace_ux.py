"""What a new user saw go wrong in the workspace, each now checked in Chromium."""

import re

import pytest
from playwright.sync_api import expect

from sessions_app.actions.create import session_create
from sessions_app.actions.end import session_end
from sessions_app.actions.messages import message_send
from sessions_app.models import ChatSession
from skills_app.actions import skill_group_create
from tests.browser.conftest import PASSWORD
from tests.browser.test_workspace import new_agent
from tests.conftest import unique

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.live]


def signed_in(browser, base_url: str, agent, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/?next=/workspace/")
    page.fill("#id_username", agent.user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base_url}/workspace/")
    expect(page.locator("#load")).not_to_have_text("–")  # the socket's hello has come
    return page


def test_four_offers_stay_compact_oldest_first_and_keep_their_order_after_a_reload(
    browser, live_server_url, desk, shot
):
    desk.accept_timeout_seconds = 60
    desk.save()
    alice = new_agent("Alice")
    page = signed_in(browser, live_server_url, alice, 1366, 768)
    names = ["First", "Second", "Third", "Fourth"]
    ids = [str(session_create(customer_name=n, message=f"{n} question")[0].pk) for n in names]
    bars = page.locator("#offers .prompt")
    expect(bars).to_have_count(4)

    def order():
        return [bars.nth(i).get_attribute("data-session-id") for i in range(4)]

    assert order() == ids
    # The strip keeps its height: the chat area stays where it was, above the fold
    strip = page.locator("#offers").bounding_box()
    assert strip["height"] <= 150, strip
    pane = page.locator("#pane-empty").bounding_box()
    assert pane["y"] + pane["height"] <= 768
    # The tab says so: a count in the title and the alert icon
    expect(page).to_have_title(re.compile(r"^\(4\) Workspace"))
    assert "favicon-alert" in page.locator("#favicon").get_attribute("href")
    shot(page, "four-offers")
    page.reload()
    expect(bars).to_have_count(4)
    assert order() == ids
    # Serving one puts the cursor in the reply box
    bars.first.locator("button.serve").click()
    expect(page.locator("#pane-title")).to_have_text("First")
    expect(page.locator("#body")).to_be_focused()
    expect(page).to_have_title(re.compile(r"^\(3\) Workspace"))


def test_at_phone_width_the_list_and_the_chat_are_two_views(browser, live_server_url, desk, shot):
    desk.service_mode = "auto"
    desk.save()
    alice = new_agent("Alice")
    page = signed_in(browser, live_server_url, alice, 390, 844)
    session_create(customer_name="Maria", message="Hi from my phone")
    row = page.locator("#sessions li")
    expect(row).to_have_text("Maria")
    # The chat opened by itself (auto mode): the list made way for it
    expect(page.locator("#pane")).to_be_visible()
    expect(page.locator(".list")).to_be_hidden()
    pane = page.locator("#pane").bounding_box()
    assert pane["width"] >= 340, pane
    expect(page.locator("#body")).to_be_visible()
    shot(page, "phone-chat")
    page.click("#back")
    expect(page.locator(".list")).to_be_visible()
    expect(page.locator("#pane")).to_be_hidden()
    shot(page, "phone-list")
    row.locator("button.open").click()
    expect(page.locator("#log")).to_contain_text("Hi from my phone")


def test_agents_see_who_waits_in_their_groups(browser, live_server_url, desk):
    desk.service_mode = "auto"
    desk.save()
    alice = new_agent("Alice")
    billing = skill_group_create(
        name=unique("Billing"), members=[{"agent_id": alice.pk, "priority": 3}]
    )
    alice.max_sessions = 1
    alice.save(update_fields=["max_sessions"])
    page = signed_in(browser, live_server_url, alice, 1280, 720)
    session_create(customer_name="Served", message="Hi", skill_group=billing.pk)
    session_create(customer_name="Waiting", message="Hello?", skill_group=billing.pk)
    queue = page.locator("#queue-list li", has_text=billing.name)
    expect(queue).to_contain_text("1 waiting", timeout=15000)
    expect(queue).to_contain_text("longest")


def test_earlier_chats_and_history_open_their_transcripts(browser, live_server_url, desk, shot):
    desk.service_mode = "auto"
    desk.save()
    alice = new_agent("Alice")
    # Maria chatted last week and was served by Alice; now she is back
    old, _ = session_create(customer_name="Maria", message="Where is parcel 77?", email="m@x.io")
    message_send(session_id=old.pk, sender="agent", body="It left today.", agent=alice)
    session_end(session_id=old.pk, reason="agent_ended", agent=alice)
    page = signed_in(browser, live_server_url, alice, 1366, 768)
    session_create(customer_name="Maria", message="Me again", email="m@x.io")
    page.locator("#sessions li", has_text="Maria").locator("button.open").click()
    expect(page.locator("#pane-title")).to_have_text("Maria")
    facts = page.locator("#context-facts")
    expect(facts).to_contain_text("m@x.io")
    earlier = page.locator("#context-history li")
    expect(earlier).to_have_count(1)
    shot(page, "context-panel")
    earlier.locator("button").click()
    dialog = page.locator("#transcript-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#transcript-log")).to_contain_text("Where is parcel 77?")
    expect(dialog.locator("#transcript-log")).to_contain_text("It left today.")
    page.click("#transcript-close")

    # History: a word from the old chat finds it
    page.click("#tab-history")
    page.fill("#history-q", "parcel")
    hits = page.locator("#history li")
    expect(hits).to_have_count(1)
    expect(hits).to_contain_text("Maria")
    shot(page, "history-search")
    page.fill("#history-q", "nothing-like-this")
    expect(page.locator("#no-history")).to_be_visible()


def test_keyboard_only_an_agent_goes_online_serves_and_replies(browser, live_server_url, desk):
    dana = new_agent("Dana", online=False)
    page = signed_in(browser, live_server_url, dana, 1280, 720)
    # Tab to the status switch and pick Online with the arrow keys, as radios go
    page.locator(".status-switch input[value=online]").focus()
    page.keyboard.press("Space")
    expect(page.locator(".status-switch input[value=online]")).to_be_checked()
    expect(page.locator("#offline-hint")).to_be_hidden()
    session_create(customer_name="Keys", message="Hello keyboard")
    serve = page.locator("#offers .prompt button.serve")
    expect(serve).to_be_visible()
    serve.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#body")).to_be_focused()
    page.keyboard.type("Hi, how can I help?")
    page.keyboard.press("Enter")
    session = ChatSession.objects.get(customer_name="Keys")
    expect(page.locator("#log li.agent")).to_contain_text("Hi, how can I help?")
    assert session.messages.filter(sender="agent").count() == 1


CONTRAST_JS = """
(pairs) => {
  const rgb = (s) => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  return pairs.map(([sel, fgProp, bgSel]) => {
    const fg = getComputedStyle(document.querySelector(sel))[fgProp];
    const bg = getComputedStyle(document.querySelector(bgSel)).backgroundColor;
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    return [sel, Math.round(((a + 0.05) / (b + 0.05)) * 100) / 100];
  });
}
"""


def test_controls_and_text_have_a_contrast_of_at_least_4_5(browser, live_server_url, desk):
    dana = new_agent("Dana", online=False)
    page = signed_in(browser, live_server_url, dana, 1280, 720)
    page.click(".status-switch label:has(input[value=away])")
    expect(page.locator(".status-switch input[value=away]")).to_be_checked()
    away = ".status-switch input[value=away]:checked + span"
    pairs = [
        [away, "color", away],  # the Away button, on
        ["#history-q", "borderTopColor", ".list"],  # an input's border
        ["#no-sessions", "color", ".list"],  # muted text
        [".load", "color", ".topbar"],
    ]
    for selector, ratio in page.evaluate(CONTRAST_JS, pairs):
        assert ratio >= 4.5, (selector, ratio)
