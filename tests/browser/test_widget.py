"""The embeddable widget (static/desk-widget.js) on another site, in Chromium.

The other site is the demo shop of scripts/widget_demo.py (fixture `widget_shop`), on an
origin the session's daphne names in WIDGET_ALLOWED_ORIGINS (tests/procs.py).
"""

import gzip
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from sessions_app.models import OfflineMessage
from tests.browser.conftest import PASSWORD
from tests.browser.test_agent_tools import type_fast
from tests.browser.test_workspace import new_agent, open_workspace
from tests.conftest import unique

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.live]


def shop_url(shop, path: str = "/") -> str:
    return f"http://127.0.0.1:{shop.server_port}{path}"


def open_shop(browser, shop, viewport=(1100, 760), motion="no-preference", **options):
    """A fresh tab on the shop's front page, its widget configured with `options` (data-*),
    and the list of every URL the tab requested."""
    shop.options = options
    size = {"width": viewport[0], "height": viewport[1]}
    context = browser.new_context(viewport=size, reduced_motion=motion)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(shop_url(shop))
    return page, requested


def widget(page):
    """The widget's parts (inside its open shadow root, which Playwright's CSS pierces)."""
    return (
        page.locator("#desk-widget .launcher"),
        page.locator("#desk-widget .badge"),
        page.locator("#desk-widget .panel"),
    )


def focused_in_widget(page) -> str:
    """The tag of the element focused inside the widget ('' if none)."""
    return page.locator("#desk-widget .launcher").evaluate(
        "(b) => (b.getRootNode().activeElement || {}).tagName || ''"
    )


def settled(page) -> None:
    """The panel's opening animation run to its end (before a screenshot)."""
    page.locator("#desk-widget .panel").evaluate(
        "(panel) => Promise.all(panel.getAnimations().map((a) => a.finished))"
    )


def get(url: str):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.headers, resp.read()


def test_a_chat_from_another_site_counts_unread_survives_page_loads_and_is_rated(
    browser, live_server_url, desk, widget_shop, shot
):
    # Given an online agent (auto mode: the chat lands in the workspace, no offer to accept)
    desk.service_mode = "auto"
    desk.save()
    agent = open_workspace(browser, live_server_url, new_agent("Walt"))
    name = unique("Wanda")

    # When a visitor opens the shop, whose page embeds the widget with their name
    page, requested = open_shop(browser, widget_shop, customer_name=name)
    launcher, badge, panel = widget(page)
    expect(page.get_by_role("button", name="Chat with us", exact=True)).to_be_visible()
    page.wait_for_load_state("networkidle")

    # Then the page asked the desk for the widget's script only: no frame, no chat page yet
    script = f"{live_server_url}/static/desk-widget.js"
    assert [url for url in requested if url.startswith(live_server_url)] == [script]
    assert not [url for url in requested if "/chat/" in url]
    expect(page.locator("iframe")).to_have_count(0)
    expect(badge).to_be_hidden()
    headers, body = get(script)
    size = len(gzip.compress(body))
    print(f"desk-widget.js: {len(body)} bytes, {size} bytes gzipped")
    assert size <= 15 * 1024
    assert "javascript" in headers["Content-Type"]

    # When they click the launcher, the panel frames the desk's chat, prefilled, focused
    launcher.click()
    expect(panel).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    frame = page.locator("#desk-widget iframe")
    src = re.escape(f"{live_server_url}/chat/?embed=1&lang=en&customer_name={name}")
    expect(frame).to_have_attribute("src", re.compile(f"^{src}$"))
    assert focused_in_widget(page) == "IFRAME"
    chat = page.frame_locator("#desk-widget iframe")
    expect(chat.locator("#name")).to_have_value(name)

    # And they start a chat, which the agent gets
    chat.locator("#first").fill("Does the linen throw come in grey?")
    chat.locator("#start button[type=submit]").click()
    expect(chat.locator("#log")).to_contain_text("Does the linen throw come in grey?")
    row = agent.locator("#sessions li")
    expect(row).to_have_text(name)
    row.click()

    # When the visitor closes the panel and the agent writes, the launcher counts it
    launcher.click()
    expect(panel).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(page.locator("#desk-widget iframe")).to_have_count(1)  # still loaded, still live
    page.get_by_text("€68").click(trial=True)  # the closed panel does not cover the page
    agent.fill("#body", "Yes, we have it in grey and in sand.")
    agent.click("#send button[type=submit]")
    expect(badge).to_have_text("1")
    expect(badge).to_be_visible()
    expect(launcher).to_have_attribute("aria-label", "Chat with us, 1 unread")
    shot(page, "badge")

    # When they go to another page of the shop (panel closed), the chat is framed again at
    # once, hidden, and the launcher still counts the agent's messages
    page.click("header a[href='/other.html']")
    expect(page).to_have_url(shop_url(widget_shop, "/other.html"))
    expect(page.locator("#desk-widget iframe")).to_have_count(1)
    expect(panel).to_be_hidden()
    expect(chat.locator("#log")).to_contain_text("Yes, we have it in grey")
    agent.fill("#body", "Shall I reserve one for you?")
    agent.click("#send button[type=submit]")
    expect(badge).to_have_text("1")
    type_fast(agent, [f"Colour note {i}" for i in range(9)])
    expect(badge).to_have_text("9+")
    expect(launcher).to_have_attribute("aria-label", "Chat with us, 10 unread")
    assert page.evaluate("JSON.parse(sessionStorage.getItem('desk-widget'))") == {
        "open": False,
        "active": True,
    }

    # When they open the panel, the count goes away and the conversation is all there
    launcher.click()
    expect(panel).to_be_visible()
    expect(badge).to_be_hidden()
    expect(launcher).to_have_attribute("aria-label", "Chat with us")
    expect(chat.locator("#log")).to_contain_text("Colour note 8")
    settled(page)
    shot(page, "panel-open")

    # And a reload with the panel open brings it back open on the same conversation
    page.reload()
    expect(panel).to_be_visible()
    expect(chat.locator("#log")).to_contain_text("Yes, we have it in grey and in sand.")
    expect(chat.locator("#log")).to_contain_text("Does the linen throw come in grey?")
    expect(badge).to_be_hidden()

    # The close button in the panel's header closes it too, and Escape on the launcher
    page.locator("#desk-widget .close").click()
    expect(panel).to_be_hidden()
    expect(launcher).to_be_focused()
    launcher.click()
    expect(panel).to_be_visible()
    expect(chat.locator("#body")).to_be_focused()  # the chat page's reply box has the cursor
    page.locator("#desk-widget .close").focus()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(launcher).to_be_focused()
    launcher.click()

    # When the agent ends the chat, the visitor rates it four stars in the panel
    agent.click("#end-chat")
    agent.click("#end-chat")
    expect(chat.locator("#rating")).to_be_visible()
    chat.locator("#stars label[for=score-4]").click()
    chat.locator("#rating-send").click()
    expect(chat.locator("#rating-thanks")).to_be_visible()
    settled(page)
    shot(page, "rated")

    # And the agent sees the score
    expect(agent.locator(".toast")).to_contain_text(f"{name} rated your chat 4 / 5")
    expect(agent.locator("#ended-note")).to_contain_text("rated it 4 / 5")
    shot(agent, "agent-sees-rating")


def test_outside_working_hours_the_widget_takes_a_message_for_the_admin(
    browser, live_server_url, desk, widget_shop, shot
):
    # Given a desk that is closed (working hours on, no open period)
    desk.working_hours_enabled = True
    desk.timezone = "UTC"
    desk.working_hours = []
    desk.save()
    name, email = unique("Olga"), f"{unique('olga')}@example.com"

    # When a visitor opens the widget on the shop
    page, _ = open_shop(browser, widget_shop, customer_name=name, email=email)
    launcher, _, panel = widget(page)
    launcher.click()
    expect(panel).to_be_visible()

    # Then the panel shows the message form, not the chat, prefilled
    chat = page.frame_locator("#desk-widget iframe")
    expect(chat.locator("#offline")).to_be_visible()
    expect(chat.locator("#offline-notice")).not_to_be_empty()
    expect(chat.locator("#start")).to_be_hidden()
    expect(chat.locator("#offline-name")).to_have_value(name)
    expect(chat.locator("#offline-email")).to_have_value(email)
    chat.locator("#offline-message").fill("Please send me your autumn catalogue.")
    settled(page)
    shot(page, "offline-form")
    chat.locator("#offline-send").click()
    expect(chat.locator("#offline-thanks")).to_be_visible()
    shot(page, "offline-thanks")

    # And the message reached the desk, unhandled, where staff see it in the admin
    left = OfflineMessage.objects.get(customer_name=name)
    assert (left.email, left.message, left.handled) == (
        email,
        "Please send me your autumn catalogue.",
        False,
    )
    from django.contrib.auth.models import User

    boss = User.objects.create_superuser(unique("boss"), f"{unique('boss')}@example.com", PASSWORD)
    admin = browser.new_context(viewport={"width": 1100, "height": 700}).new_page()
    admin.goto(f"{live_server_url}/admin/sessions_app/offlinemessage/")
    admin.fill("#id_username", boss.username)
    admin.fill("#id_password", PASSWORD)
    admin.click("input[type=submit], button[type=submit]")
    expect(admin).to_have_url(f"{live_server_url}/admin/sessions_app/offlinemessage/")
    expect(admin.locator("#result_list")).to_contain_text(name)
    shot(admin, "admin-offline-messages")


def test_only_the_embedded_chat_may_be_framed_and_only_by_the_allowed_site(
    live_server_url, widget_shop
):
    shop = f"http://127.0.0.1:{widget_shop.server_port}"
    headers, _ = get(f"{live_server_url}/chat/?embed=1")
    ancestors = frame_ancestors(headers)
    assert "'self'" in ancestors and shop in ancestors
    headers, _ = get(f"{live_server_url}/chat/")
    assert frame_ancestors(headers) == ["'none'"]


def frame_ancestors(headers) -> list[str]:
    policy = headers["Content-Security-Policy"]
    for directive in policy.split(";"):
        name, *values = directive.split()
        if name == "frame-ancestors":
            return values
    raise AssertionError(f"no frame-ancestors in {policy!r}")


def test_on_a_small_screen_in_chinese_the_panel_fills_the_screen(
    browser, live_server_url, desk, widget_shop, shot
):
    # (Reduced motion: the panel is in place at once, to be measured.)
    page, _ = open_shop(browser, widget_shop, viewport=(400, 720), motion="reduce", lang="zh")
    launcher, _, panel = widget(page)
    expect(page.get_by_role("button", name="联系我们", exact=True)).to_be_visible()
    launcher.click()
    expect(panel).to_be_visible()
    expect(page.locator("#desk-widget iframe")).to_have_attribute(
        "src", f"{live_server_url}/chat/?embed=1&lang=zh-Hans"
    )
    box = panel.bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 400, 720)
    expect(launcher).to_be_hidden()  # it would cover the chat's send button
    expect(page.locator("#desk-widget .close")).to_have_attribute("aria-label", "关闭聊天")
    expect(page.frame_locator("#desk-widget iframe").locator("#start")).to_be_visible()
    shot(page, "small-screen")
    page.locator("#desk-widget .close").click()
    expect(panel).to_be_hidden()
    expect(launcher).to_be_focused()
