"""The customer's chat page in Chromium: prompts, the wait counter, the connection state, the
agent's name and initial, the queue timeout's message form, the closed desk, a phone's layout
and Simplified Chinese."""

import re

import pytest
from playwright.sync_api import expect

from sessions_app.models import OfflineMessage
from tests.browser.test_workspace import new_agent, open_workspace, start_chat

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.live]


def waited_seconds(page) -> int:
    text = page.locator("#waited").inner_text()
    minutes, seconds = re.search(r"(\d+):(\d\d)", text).groups()
    return int(minutes) * 60 + int(seconds)


def test_the_customer_sees_the_wait_grow_then_the_agent_with_prompts(
    browser, live_server_url, desk, prompts_on, shot
):
    # Given nobody online: the customer waits, told their place, and sees the wait counting up
    prompts_on.save()
    customer = start_chat(browser, live_server_url, "Maria", "Where is my parcel?")
    expect(customer.locator("#log")).to_contain_text(
        "Thanks for reaching out. We'll be with you shortly."
    )
    expect(customer.locator("#log")).to_contain_text("You are number 1 in line.")
    expect(customer.locator("#conn")).to_have_text("Connected")
    expect(customer.locator("#waited")).to_be_visible()
    first = waited_seconds(customer)
    customer.wait_for_timeout(2600)
    assert waited_seconds(customer) >= first + 2
    shot(customer, "waiting")
    # When an agent comes online and accepts
    sofia = new_agent("Sofia", online=False)
    agent = open_workspace(browser, live_server_url, sofia)
    agent.locator(".status-switch span", has_text="Online").click()
    agent.locator("#offers .prompt button", has_text="Serve").first.click()
    # Then the customer reads who joined; the counter is gone
    expect(customer.locator("#status")).to_have_text("Sofia joined")
    expect(customer.locator("#log")).to_contain_text("Sofia joined the chat.")
    expect(customer.locator("#waited")).to_be_hidden()
    agent.locator("#body").fill("Hello Maria, let me look.")
    agent.keyboard.press("Enter")
    line = customer.locator("#log .msg.agent").last
    expect(line).to_contain_text("Hello Maria, let me look.")
    expect(line.locator(".avatar")).to_have_text("S")
    expect(line.locator(".who")).to_have_text("Sofia")
    shot(customer, "agent-with-initial")


def test_a_chat_nobody_answers_ends_and_the_customer_leaves_a_message(
    browser, live_server_url, desk, shot
):
    # Given a 2 s queue timeout and nobody online
    desk.queue_timeout_seconds = 2
    desk.queue_timeout_notice = "Sorry, nobody could answer. Leave us a message?"
    desk.save()
    customer = start_chat(browser, live_server_url, "Nina", "Hello?")
    # Then the chat ends with the notice, said once, and a way to leave a message
    expect(customer.locator("#end-reason")).to_have_text(
        "Sorry, nobody could answer. Leave us a message?", timeout=8000
    )
    expect(customer.locator("#log")).not_to_contain_text("nobody could answer")
    expect(customer.locator("#rating")).to_be_hidden()
    customer.locator("#leave-message").click()
    expect(customer.locator("#offline-name")).to_have_value("Nina")
    customer.fill("#offline-email", "nina@example.com")
    customer.fill("#offline-message", "Please call me back tomorrow.")
    shot(customer, "message-form")
    customer.locator("#offline-send").click()
    expect(customer.locator("#offline-thanks")).to_be_visible()
    left = OfflineMessage.objects.get(email="nina@example.com")
    assert left.message == "Please call me back tomorrow." and left.session is not None
    assert left.session.end_reason == "queue_timeout"


def test_outside_working_hours_the_page_offers_the_message_form(
    browser, live_server_url, desk, shot
):
    desk.working_hours_enabled = True
    desk.working_hours = []
    desk.offline_notice = "We're closed until Monday 9:00."
    desk.save()
    page = browser.new_context(viewport={"width": 700, "height": 700}).new_page()
    page.goto(f"{live_server_url}/chat/")
    expect(page.locator("#offline-notice")).to_have_text("We're closed until Monday 9:00.")
    expect(page.locator("#start")).to_be_hidden()
    page.fill("#offline-name", "Otto")
    page.fill("#offline-email", "not an address")
    page.fill("#offline-message", "Hi")
    page.locator("#offline-send").click()
    # The browser's own check stops a malformed address before it is sent
    assert OfflineMessage.objects.filter(customer_name="Otto").count() == 0
    page.fill("#offline-email", "otto@example.com")
    page.locator("#offline-send").click()
    expect(page.locator("#offline-thanks")).to_be_visible()
    shot(page, "closed")
    assert OfflineMessage.objects.filter(customer_name="Otto", email="otto@example.com").exists()


def test_on_a_phone_the_reply_box_stays_at_the_bottom(browser, live_server_url, desk, shot):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{live_server_url}/chat/")
    heading = page.locator(".chat-head").bounding_box()
    assert heading["height"] < 844 / 10, heading
    page.fill("#name", "Pia")
    page.fill("#first", "Line one")
    page.click("#start button[type=submit]")
    expect(page.locator("#log")).to_contain_text("Line one")
    expect(page.locator("#conn")).to_have_text("Connected")
    box = page.locator("#send").bounding_box()
    assert box["y"] + box["height"] > 844 - 120, box  # pinned near the bottom
    assert box["y"] + box["height"] <= 844 + 1, box  # and on the screen
    shot(page, "phone")


def test_the_page_in_simplified_chinese(browser, live_server_url, desk, prompts_on, shot):
    prompts_on.save()
    page = browser.new_context(viewport={"width": 700, "height": 700}).new_page()
    page.goto(f"{live_server_url}/chat/?lang=zh-Hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("h1")).to_have_text("与我们聊天")
    expect(page.locator("#start button[type=submit]")).to_have_text("开始聊天")
    page.fill("#name", "李雷")
    page.fill("#first", "你好")
    page.click("#start button[type=submit]")
    # The status line and the prompts are Chinese too (the desk's translation of the defaults)
    expect(page.locator("#status")).to_have_text("排队中 — 第 1 位")
    expect(page.locator("#log")).to_contain_text("感谢您的联系，我们会尽快为您服务。")
    shot(page, "zh-hans")
