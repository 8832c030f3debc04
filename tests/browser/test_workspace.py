"""The agent workspace and the customer chat page, in Chromium, against the real processes."""

import time

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from agents_app.actions.agents import agent_create
from agents_app.actions.status import agent_set_status
from sessions_app.models import Offer
from tests.browser.conftest import PASSWORD
from tests.conftest import unique

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.live]


def new_agent(name: str, online: bool = True):
    username = unique(name.lower())
    agent = agent_create(
        username=username, password=PASSWORD, display_name=name, check_password=False
    )
    if online:
        agent_set_status(agent_id=agent.pk, status="online")
    return agent


def open_workspace(browser, base_url: str, agent):
    """A fresh browser context, signed in through the login form, on /workspace/."""
    context = browser.new_context(viewport={"width": 1100, "height": 700})
    page = context.new_page()
    page.goto(f"{base_url}/workspace/")
    expect(page).to_have_url(f"{base_url}/accounts/login/?next=/workspace/")
    page.fill("#id_username", agent.user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base_url}/workspace/")
    expect(page.locator("#load")).to_have_text("0 / 5")
    return page


def start_chat(browser, base_url: str, name: str, first: str):
    context = browser.new_context(viewport={"width": 700, "height": 700})
    page = context.new_page()
    page.goto(f"{base_url}/chat/")
    page.fill("#name", name)
    page.fill("#first", first)
    page.click("#start button[type=submit]")
    expect(page.locator("#conversation")).to_be_visible()
    expect(page.locator("#log")).to_contain_text(first)
    return page


def seconds_left(page) -> int:
    return int(page.locator("#offers .countdown").first.get_attribute("data-seconds"))


def ring_playing(page) -> bool:
    return page.evaluate("() => !document.getElementById('ring').paused")


def test_manual_offer_rings_expires_moves_to_next_agent_who_serves_and_ends(
    browser, live_server_url, desk, shot
):
    # Given two online agents with their workspaces open, in manual mode
    desk.accept_timeout_seconds = 4
    desk.save()
    alice, bob = new_agent("Alice"), new_agent("Bob")
    page_a = open_workspace(browser, live_server_url, alice)
    page_b = open_workspace(browser, live_server_url, bob)

    # When a customer starts a chat
    customer = start_chat(browser, live_server_url, "Carla", "My parcel never came")
    expect(customer.locator("#status")).to_have_text("Connecting you to an agent…")

    # Then the first agent gets a prompt bar with a countdown that runs down, and it rings
    bar = page_a.locator("#offers .prompt")
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("Carla")
    expect(bar).to_contain_text("My parcel never came")
    expect(page_a.locator("#load")).to_have_text("1 / 5")
    first = seconds_left(page_a)
    assert 2 <= first <= 4
    assert ring_playing(page_a)
    shot(page_a, "offer-bar-agent-a")
    page_a.wait_for_timeout(1100)
    assert seconds_left(page_a) < first

    # When agent A does nothing, at zero the bar leaves A and shows up for B
    expect(bar).to_have_count(0, timeout=6000)
    assert not ring_playing(page_a)
    bar_b = page_b.locator("#offers .prompt")
    expect(bar_b).to_be_visible(timeout=6000)
    expect(bar_b).to_contain_text("Carla")
    shot(page_b, "offer-moved-to-agent-b")

    # When B clicks Serve, B and the customer chat
    bar_b.locator("button.serve").click()
    expect(bar_b).to_have_count(0)
    expect(page_b.locator("#sessions li")).to_have_text("Carla")
    expect(page_b.locator("#log")).to_contain_text("My parcel never came")
    expect(customer.locator("#status")).to_have_text("Bob joined")
    customer.fill("#body", "Are you there?")
    customer.click("#send button[type=submit]")
    expect(page_b.locator("#log")).to_contain_text("Are you there?")
    page_b.fill("#body", "Yes, let me check your parcel.")
    page_b.click("#send button[type=submit]")
    expect(customer.locator("#log")).to_contain_text("Yes, let me check your parcel.")
    shot(page_b, "agent-b-chatting")
    shot(customer, "customer-chatting")

    # When B ends the chat (End asks once more), the customer page shows it ended and B's
    # list drops it
    page_b.click("#end-chat")
    expect(page_b.locator("#end-chat")).to_have_text("Press again to end")
    expect(customer.locator("#end-box")).to_be_hidden()
    page_b.click("#end-chat")
    expect(customer.locator("#end-box")).to_be_visible()
    expect(customer.locator("#end-reason")).to_contain_text("The agent ended this chat")
    expect(customer.locator("#new-chat")).to_be_visible()
    expect(page_b.locator("#sessions li")).to_have_count(0)
    expect(page_b.locator("#ended-note")).to_contain_text("You ended this chat")
    shot(customer, "customer-sees-end")


def test_auto_mode_puts_the_chat_straight_into_the_list_without_a_bar(
    browser, live_server_url, desk, shot
):
    desk.service_mode = "auto"
    desk.save()
    dana = new_agent("Dana", online=False)
    page = open_workspace(browser, live_server_url, dana)
    # Offline at first, and told so
    expect(page.locator("#offline-hint")).to_contain_text("You are offline")
    page.click(".status-switch label:has(input[value=online])")  # the status switch itself
    expect(page.locator(".status-switch input[value=online]")).to_be_checked()
    expect(page.locator("#offline-hint")).to_be_hidden()

    customer = start_chat(browser, live_server_url, "Emil", "Quick question")
    expect(page.locator("#sessions li")).to_have_text("Emil", timeout=3000)
    expect(page.locator("#offers .prompt")).to_have_count(0)
    expect(page.locator("#load")).to_have_text("1 / 5")
    expect(customer.locator("#status")).to_have_text("Dana joined")
    shot(page, "auto-assigned")

    # A second chat: while the first is open, its new message shows as unread, on top
    other = start_chat(browser, live_server_url, "Fern", "Second question")
    expect(page.locator("#sessions li")).to_have_count(2)
    expect(page.locator("#pane-title")).to_have_text("Emil")
    other.fill("#body", "Hello again?")
    other.click("#send button[type=submit]")
    first_row = page.locator("#sessions li").first
    expect(first_row.locator(".name")).to_have_text("Fern")
    expect(first_row.locator(".unread")).to_have_text("1")
    shot(page, "unread-count")
    first_row.click()
    expect(page.locator("#log")).to_contain_text("Hello again?")
    expect(first_row.locator(".unread")).to_have_count(0)


def test_customer_silence_ends_the_chat_with_the_reminder_text(
    browser, live_server_url, desk, shot
):
    desk.service_mode = "auto"
    desk.idle_end_notice = "We closed this chat as we did not hear back. Come back any time!"
    desk.save()
    fay = new_agent("Fay")
    page = open_workspace(browser, live_server_url, fay)
    customer = start_chat(browser, live_server_url, "Gus", "Hello")
    expect(page.locator("#sessions li")).to_have_text("Gus")
    page.locator("#sessions li").click()
    page.fill("#body", "Can I have your order number?")
    page.click("#send button[type=submit]")
    expect(customer.locator("#log")).to_contain_text("Can I have your order number?")

    # The customer says nothing: after the idle timeout the reminder and the end show
    expect(customer.locator("#end-reason")).to_have_text(
        "We closed this chat as we did not hear back. Come back any time!", timeout=8000
    )
    # Said once: in the end box, not again as the last bubble of the log
    expect(customer.locator("#log .msg.system", has_text="We closed this chat")).to_have_count(0)
    # The agent's list keeps it, marked ended, until dismissed; a toast said so
    expect(page.locator("#sessions li.ended")).to_contain_text("Gus")
    expect(page.locator("#sessions li.ended .ended-tag")).to_have_text("Ended")
    expect(page.locator("#ended-note")).to_contain_text("idle timeout")
    expect(page.locator(".toast")).to_contain_text("The chat with Gus ended")
    shot(customer, "customer-idle-end")
    shot(page, "agent-idle-end")
    page.click("#dismiss")
    expect(page.locator("#sessions li")).to_have_count(0)

    # Start a new chat goes back to the form, and a reload does not resume the old chat
    customer.click("#new-chat")
    expect(customer.locator("#start")).to_be_visible()
    customer.reload()
    expect(customer.locator("#start")).to_be_visible()


def test_reload_mid_offer_brings_the_bar_back_with_the_time_left(
    browser, live_server_url, desk, shot
):
    desk.accept_timeout_seconds = 10
    desk.save()
    hana = new_agent("Hana")
    page = open_workspace(browser, live_server_url, hana)
    customer = start_chat(browser, live_server_url, "Ivo", "Reload me")
    expect(page.locator("#offers .prompt")).to_be_visible()
    page.wait_for_timeout(3000)
    page.reload()
    expect(page.locator("#offers .prompt")).to_contain_text("Ivo")
    left = seconds_left(page)
    offer = Offer.objects.get(session__customer_name="Ivo", outcome="")
    expected = (offer.expires_at - timezone.now()).total_seconds()
    assert expected < 8  # three seconds and more have gone by
    assert abs(left - expected) <= 1.5, (left, expected)
    shot(page, "bar-after-reload")

    # A customer reload resumes the same chat too
    customer.reload()
    expect(customer.locator("#conversation")).to_be_visible()
    expect(customer.locator("#log")).to_contain_text("Reload me")
    expect(customer.locator("#status")).to_have_text("Connecting you to an agent…")


def test_a_dropped_offer_frame_is_noticed_by_seq_and_the_offer_still_shows(
    browser, live_server_url, desk, shot
):
    desk.accept_timeout_seconds = 60
    desk.save()
    jan = new_agent("Jan")
    context = browser.new_context()
    page = context.new_page()
    dropped = []

    def lossy(ws):
        server = ws.connect_to_server()

        def from_server(message):
            # Lose the first offer on the way, as a full channel would.
            if '"session.offered"' in str(message) and not dropped:
                dropped.append(message)
                return
            ws.send(message)

        server.on_message(from_server)

    page.route_web_socket("**/ws/agent/", lossy)
    page.goto(f"{live_server_url}/accounts/login/?next=/workspace/")
    page.fill("#id_username", jan.user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#load")).to_have_text("0 / 5")

    start_chat(browser, live_server_url, "Kai", "first, lost")
    deadline = time.monotonic() + 5
    while not dropped and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert dropped, "the offer frame never came through the route"
    expect(page.locator("#offers .prompt")).to_have_count(0)

    # The next event carries a seq one too far: the page syncs and shows both offers
    start_chat(browser, live_server_url, "Lea", "second")
    expect(page.locator("#offers .prompt")).to_have_count(2, timeout=5000)
    expect(page.locator("#offers")).to_contain_text("Kai")
    assert int(page.evaluate("() => document.body.dataset.syncs || '0'")) >= 1
    shot(page, "offers-after-sync")


BLOCK_SOUND_UNTIL_CLICK = """
(() => {
  let clicked = false;
  document.addEventListener("click", (e) => { if (e.isTrusted) clicked = true; }, true);
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    if (clicked) return play.call(this);
    return Promise.reject(new DOMException("play() needs a user gesture", "NotAllowedError"));
  };
})();
"""


def test_blocked_sound_shows_a_banner_and_a_click_enables_it(browser, live_server_url, desk, shot):
    desk.accept_timeout_seconds = 30
    desk.save()
    max_ = new_agent("Max")
    # Signed in without a click, so the workspace has seen no gesture at all.
    context = browser.new_context()
    login = f"{live_server_url}/accounts/login/"
    context.request.get(login)
    csrf = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
    context.request.post(
        login,
        form={"username": max_.user.username, "password": PASSWORD, "csrfmiddlewaretoken": csrf},
        headers={"Referer": login},
    )
    page = context.new_page()
    # Playwright's own page calls count as user gestures, so headless Chromium never blocks
    # sound here: play() behaves as Chromium's autoplay policy does until a real click.
    page.add_init_script(BLOCK_SOUND_UNTIL_CLICK)
    page.goto(f"{live_server_url}/workspace/")
    expect(page.locator("#load")).to_have_text("0 / 5")
    start_chat(browser, live_server_url, "Nia", "Ring ring")
    expect(page.locator("#offers .prompt")).to_be_visible()
    banner = page.locator("#sound-banner")
    expect(banner).to_be_visible()
    expect(banner).to_have_text("Sound is blocked — click to enable")
    shot(page, "sound-blocked")
    banner.click()
    expect(banner).to_be_hidden()
    assert ring_playing(page)


HIDDEN_TAB_WITH_NOTIFICATIONS = """
(() => {
  window.__notes = [];
  window.__hidden = false;
  Object.defineProperty(Document.prototype, "hidden", { get: () => window.__hidden });
  window.Notification = class {
    constructor(title, options) { window.__notes.push({ title, body: (options || {}).body }); }
    static get permission() { return "granted"; }
    static requestPermission() { return Promise.resolve("granted"); }
  };
})();
"""


def test_an_offer_while_the_tab_is_hidden_raises_a_browser_notification(
    browser, live_server_url, desk
):
    desk.accept_timeout_seconds = 30
    desk.save()
    olga = new_agent("Olga")
    context = browser.new_context()
    # Headless Chromium shows no notifications and never hides a tab: both are stood in for.
    context.add_init_script(HIDDEN_TAB_WITH_NOTIFICATIONS)
    page = context.new_page()
    page.goto(f"{live_server_url}/workspace/")
    page.fill("#id_username", olga.user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#load")).to_have_text("0 / 5")
    page.evaluate("() => { window.__hidden = true; }")

    start_chat(browser, live_server_url, "Pia", "Anyone there?")
    expect(page.locator("#offers .prompt")).to_be_visible()
    notes = page.evaluate("() => window.__notes")
    assert notes == [{"title": "New chat: Pia", "body": "Anyone there?"}]


def test_workspace_reconnects_after_a_drop_and_rebuilds_from_hello(
    browser, live_server_url, desk, shot
):
    desk.accept_timeout_seconds = 30
    desk.save()
    quinn = new_agent("Quinn")
    context = browser.new_context()
    page = context.new_page()
    link = {"down": False, "routes": []}

    def route(ws):
        if link["down"]:
            ws.close(code=1011, reason="server away")  # the server is still unreachable
            return
        ws.connect_to_server()
        link["routes"].append(ws)

    page.route_web_socket("**/ws/agent/", route)
    page.goto(f"{live_server_url}/workspace/")
    page.fill("#id_username", quinn.user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#load")).to_have_text("0 / 5")
    banner = page.locator("#conn-banner")
    expect(banner).to_be_hidden()

    # When the connection drops and the server stays away for a while
    link["down"] = True
    link["routes"][-1].close(code=1012, reason="restart")
    expect(banner).to_be_visible()
    expect(banner).to_have_text("Reconnecting…")
    start_chat(browser, live_server_url, "Rex", "Offered while you were away")
    page.wait_for_timeout(1500)  # a few refused attempts, with backoff
    expect(banner).to_be_visible()
    shot(page, "reconnecting")

    # Then, once it is back, the page reconnects by itself and the hello brings the offer
    link["down"] = False
    expect(banner).to_be_hidden(timeout=20000)
    expect(page.locator("#offers .prompt")).to_contain_text("Rex")
    shot(page, "reconnected")


def test_customers_see_their_place_in_the_queue_move_up(browser, live_server_url, desk, shot):
    # Given nobody online
    first = start_chat(browser, live_server_url, "Sam", "first in line")
    second = start_chat(browser, live_server_url, "Tia", "second in line")
    expect(first.locator("#status")).to_have_text("Waiting in queue — position 1")
    expect(second.locator("#status")).to_have_text("Waiting in queue — position 2")
    shot(second, "queue-position-2")

    # When an agent comes online with room for one chat
    agent = new_agent("Uma", online=False)
    from agents_app.actions.agents import agent_update

    agent_update(agent_id=agent.pk, max_sessions=1)
    agent_set_status(agent_id=agent.pk, status="online")

    # Then the first is being connected and the second moves up
    expect(first.locator("#status")).to_have_text("Connecting you to an agent…")
    expect(second.locator("#status")).to_have_text("Waiting in queue — position 1")
    shot(second, "queue-position-1")


def test_a_blank_name_is_explained_next_to_the_field(browser, live_server_url, desk):
    context = browser.new_context(viewport={"width": 700, "height": 700})
    page = context.new_page()
    page.goto(f"{live_server_url}/chat/")
    page.fill("#name", "   ")  # passes the browser's `required`, not the desk
    page.fill("#first", "Hello")
    page.click("#start button[type=submit]")
    error = page.locator("#name-error")
    expect(error).to_have_text("Please tell us your name.")
    expect(page.locator("#name")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#start-error")).to_be_hidden()
    assert "customer_name" not in page.locator("#start").inner_text()
    page.fill("#name", "Nora")
    page.click("#start button[type=submit]")
    expect(page.locator("#conversation")).to_be_visible()
