"""Skill groups in Chromium: the customer picks a team; only its agents ring; Decline moves on."""

import pytest
from playwright.sync_api import expect

from skills_app.actions import skill_group_create
from tests.browser.test_workspace import new_agent, open_workspace, ring_playing

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.live]


def test_a_billing_chat_rings_only_billing_agents_and_decline_moves_it_on(
    browser, live_server_url, desk, shot
):
    # Given Billing's two agents (Alice first) and an agent of the General group only
    desk.accept_timeout_seconds = 30  # nothing here waits for a countdown to run out
    desk.save()
    alice, bob, carl = new_agent("Alice"), new_agent("Bob"), new_agent("Carl")
    billing = skill_group_create(
        name="Billing",
        members=[{"agent_id": alice.pk, "priority": 1}, {"agent_id": bob.pk, "priority": 2}],
    )
    pages = {a: open_workspace(browser, live_server_url, a) for a in (alice, bob, carl)}

    # When a customer opens the chat page, picks Billing and writes
    context = browser.new_context(viewport={"width": 700, "height": 700})
    customer = context.new_page()
    customer.goto(f"{live_server_url}/chat/")
    expect(customer.locator("#group-choice")).to_be_visible()
    options = customer.locator("#group option")
    expect(options).to_have_text(["General", "Billing"])
    customer.fill("#name", "Dora")
    customer.select_option("#group", label="Billing")
    customer.fill("#first", "My invoice is wrong")
    shot(customer, "customer-picks-billing")
    customer.click("#start button[type=submit]")
    expect(customer.locator("#status")).to_have_text("Connecting you to an agent…")

    # Then only Alice's prompt bar rings, naming the group
    bar = pages[alice].locator("#offers .prompt")
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("Dora")
    expect(bar.locator(".group")).to_have_text("Billing")
    assert ring_playing(pages[alice])
    for other in (bob, carl):
        expect(pages[other].locator("#offers .prompt")).to_have_count(0)
        assert not ring_playing(pages[other])
    shot(pages[alice], "billing-offer-to-alice")

    # When Alice declines, the bar leaves her at once and rings for Bob, never for Carl
    bar.locator("button.decline").click()
    expect(bar).to_have_count(0, timeout=2000)
    bar_bob = pages[bob].locator("#offers .prompt")
    expect(bar_bob).to_be_visible(timeout=2000)
    expect(bar_bob).to_contain_text("Dora")
    assert ring_playing(pages[bob])
    expect(pages[carl].locator("#offers .prompt")).to_have_count(0)
    expect(pages[alice].locator("#load")).to_have_text("0 / 5")
    shot(pages[bob], "declined-offer-moves-to-bob")

    # And Bob serves it: the pane names the group, the customer sees Bob joined
    bar_bob.locator("button.serve").click()
    expect(pages[bob].locator("#pane-group")).to_have_text("Billing")
    expect(customer.locator("#status")).to_have_text("Bob joined")
    shot(pages[bob], "bob-serves-billing-chat")
    assert billing.pk
