"""The workspace as a desk (issue: transfer, canned responses, typing, send box), in Chromium."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_workspace import new_agent, open_workspace, start_chat

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.live]

LINES = 20


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
