"""The supervisor's wallboard and reports in Chromium, against the real daphne, worker and beat."""

import csv
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from playwright.sync_api import expect

from core.roles import SUPERVISORS_GROUP
from tests.browser.conftest import PASSWORD
from tests.conftest import unique

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.live]

SUMMARY_HEADER = [
    "start",
    "created",
    "served",
    "abandoned",
    "idle_ended",
    "timed_out",
    "wait_p50",
    "wait_p90",
    "handle_avg",
    "rating_avg",
    "rating_count",
]
AGENTS_HEADER = [
    "agent_id",
    "display_name",
    "served",
    "missed_offers",
    "declined",
    "transfers_out",
    "handle_avg",
    "rating_avg",
    "online_seconds",
    "away_seconds",
]


def make_supervisor():
    """A user in the Supervisors group: not staff, not an agent."""
    user = get_user_model().objects.create_user(username=unique("sup"), password=PASSWORD)
    group, _ = Group.objects.get_or_create(name=SUPERVISORS_GROUP)
    user.groups.add(group)
    return user


def sign_in(browser, base_url: str, user, path: str, width: int = 1600, height: int = 1000):
    """A fresh context signed in through the login form, on `path`; with the console's errors
    (a Content-Security-Policy refusal shows there)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base_url}{path}")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    # (the reports page puts its form's values in the address)
    expect(page).to_have_url(re.compile(re.escape(f"{base_url}{path}") + r"(\?.*)?$"))
    return page, errors


def wider_than_window(page) -> int:
    """How many pixels the page is wider than the window (it should scroll down only)."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def tile(page, name: str):
    return page.locator(f"#tile-{name} .tile-value")


def test_wallboard_shows_a_waiting_chat_live_and_its_transcript_until_served_and_ended(
    browser, playwright_session, live_server_url, desk, make_agent, make_group, shot
):
    # Given an agent of Billing who is offline, and a supervisor on the wallboard
    desk.accept_timeout_seconds = 30  # nothing here waits for an offer to expire
    desk.save()
    agent = make_agent(status="offline", name="ada")
    billing = make_group("Billing", {agent: 1})
    supervisor = make_supervisor()
    page, errors = sign_in(browser, live_server_url, supervisor, "/supervisor/")
    expect(page.locator("#conn")).to_have_text("Live")
    expect(tile(page, "queued")).to_have_text("0")
    expect(page.locator("#no-waiting")).to_be_visible()
    expect(page.locator("#groups-body tr", has_text="Billing")).to_be_visible()
    shot(page, "empty-wallboard")

    # When a customer opens a chat in Billing, with nobody online
    api = playwright_session.request.new_context(base_url=live_server_url)
    created = api.post(
        "/api/sessions/",
        data={"customer_name": "Rita", "message": "My parcel is late", "skill_group": billing.pk},
    )
    assert created.status == 201, created.text()
    chat = created.json()
    customer = {"X-Customer-Token": chat["customer_token"]}

    # Then it shows up as waiting without a reload, and its wait counts up in the browser
    row = page.locator("#waiting-body .sv-row", has_text="Rita")
    expect(row).to_be_visible(timeout=5000)
    expect(row).to_contain_text("Billing")
    expect(row).to_contain_text("Queued")
    expect(tile(page, "queued")).to_have_text("1")
    expect(
        page.locator("#groups-body tr", has_text="Billing").locator("[data-figure=queued]")
    ).to_have_text("1")
    first = int(row.locator(".wait").get_attribute("data-seconds"))
    page.wait_for_timeout(2000)
    second = int(row.locator(".wait").get_attribute("data-seconds"))
    assert second >= first + 1, (first, second)
    expect(tile(page, "longest-wait")).to_have_text(re.compile(r"^0:0\d$"))
    shot(page, "chat-waiting")

    # When the supervisor opens it: the transcript, read-only; transfer waits for an agent
    row.locator("button.open").click()
    panel = page.locator("#watch")
    expect(panel).to_be_visible()
    expect(page.locator("#watch-title")).to_have_text("Rita")
    expect(page.locator("#watch-log")).to_contain_text("My parcel is late")
    expect(page.locator("#watch-transfer")).to_be_disabled()
    expect(page.locator("#watch-note")).to_contain_text("still waiting")
    expect(row).to_have_class(re.compile(r"\bselected\b"))
    # and the customer writes again: the line comes in live
    said = api.post(
        f"/api/sessions/{chat['id']}/messages/", data={"body": "Hello?"}, headers=customer
    )
    assert said.status == 201, said.text()
    expect(page.locator("#watch-log")).to_contain_text("Hello?")
    shot(page, "transcript-of-waiting-chat")

    # When the agent goes online and accepts (over REST, with a token)
    token = api.post(
        "/api/auth/token/",
        data={"username": agent.user.username, "password": "pw-" + agent.user.username},
    ).json()["token"]
    as_agent = {"Authorization": f"Token {token}"}
    online = api.patch("/api/agents/me/", data={"status": "online"}, headers=as_agent)
    assert online.status == 200, online.text()
    expect(row).to_contain_text("Offered", timeout=5000)
    accepted = api.post(f"/api/sessions/{chat['id']}/accept/", headers=as_agent)
    assert accepted.status == 200, accepted.text()

    # Then the wallboard says queued 0, active 1, without a reload; the panel follows
    expect(tile(page, "active")).to_have_text("1", timeout=5000)
    expect(tile(page, "queued")).to_have_text("0")
    expect(tile(page, "offered")).to_have_text("0")
    expect(page.locator("#waiting-body .sv-row")).to_have_count(0)
    agent_row = page.locator(f"#agents-body [data-agent-id='{agent.pk}']")
    expect(agent_row).to_contain_text("Online")
    expect(agent_row).to_contain_text("1 / 5")
    expect(page.locator("#watch-facts")).to_contain_text(f"Served by {agent.display_name}")
    # ... and it is listed among the chats being served, with its agent, its time counting
    serving = page.locator(f"#active-body [data-session-id='{chat['id']}']")
    expect(serving).to_contain_text(agent.display_name)
    expect(serving.locator(".serving")).to_have_attribute("data-seconds", re.compile(r"\d+"))
    expect(page.locator("#watch-transfer")).to_be_enabled()
    expect(page.locator("#watch-note")).to_be_hidden()
    shot(page, "chat-served")

    # Transfer lists where it could go; cancelled here
    page.click("#watch-transfer")
    expect(page.locator("#transfer-dialog")).to_be_visible()
    expect(page.locator("#transfer-groups")).to_contain_text("Billing")
    shot(page, "transfer-dialog")
    page.click("#transfer-cancel")
    expect(page.locator("#transfer-dialog")).to_be_hidden()

    # When the supervisor ends it (End asks once more), the chat ends for everyone
    page.click("#watch-end")
    expect(page.locator("#watch-end")).to_have_text("Press again to end")
    page.click("#watch-end")
    expect(page.locator("#watch-ended")).to_contain_text("A staff member ended this chat.")
    expect(tile(page, "active")).to_have_text("0", timeout=5000)
    expect(page.locator("#active-body .sv-row")).to_have_count(0)
    ended = api.get(f"/api/sessions/{chat['id']}/", headers=customer).json()
    assert ended["state"] == "ended"
    assert ended["end_reason"] == "staff_ended"
    shot(page, "chat-ended-by-supervisor")

    # The board at a phone's width, and closed panel
    page.click("#watch-close")
    expect(panel).to_be_hidden()
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "phone-width")
    assert wider_than_window(page) == 0
    api.dispose()
    assert not errors, errors


def test_reports_draw_charts_for_the_last_week_and_download_csv(
    browser, live_server_url, desk, shot
):
    # Given a week of history and a supervisor
    call_command("seed_history", sessions=300, days=7, seed=7, quiet=True)
    supervisor = make_supervisor()

    # When the supervisor opens the reports (the last 7 days by default)
    page, errors = sign_in(browser, live_server_url, supervisor, "/supervisor/reports/", width=1280)
    reports = page.locator("#reports")
    expect(reports).to_have_attribute("data-state", "ready", timeout=15000)

    # Then the charts are drawn, the figures add up, and every agent has a row
    expect(page.locator("#charts")).to_be_visible()
    for chart in ("volume", "wait", "handle", "rating"):
        expect(page.locator(f"#chart-{chart}")).to_be_visible()
    created = page.locator("#kpis [data-kpi=created] dd")
    expect(created).not_to_have_text("0")
    assert int(created.inner_text().replace(",", "")) > 0
    rows = page.locator("#agent-report-body tr")
    expect(rows.first).to_be_visible()
    shot(page, "reports-last-week")

    # Sorting by a column: largest first, then the other way round
    page.click("#agent-report th[data-key=served] button")
    expect(page.locator("#agent-report th[data-key=served]")).to_have_attribute(
        "aria-sort", "descending"
    )
    served = [int(x.replace(",", "")) for x in rows.locator("td:nth-child(2)").all_inner_texts()]
    assert served == sorted(served, reverse=True)

    # One group, per hour
    page.select_option("#group", label="Billing")
    expect(reports).to_have_attribute("data-state", "ready", timeout=15000)
    page.click(".bucket-switch label:has(input[value=hour])")
    expect(page).to_have_url(re.compile(r"bucket=hour"))
    expect(reports).to_have_attribute("data-state", "ready", timeout=15000)
    shot(page, "reports-billing-per-hour")

    # A range without chats says so
    page.fill("#from", "2020-01-01")
    page.fill("#to", "2020-01-07")
    page.click("#report-form button[type=submit]")
    expect(page.locator("#summary-empty")).to_be_visible(timeout=15000)
    expect(page.locator("#charts")).to_be_hidden()
    shot(page, "reports-empty-range")

    # And at a phone's width
    page.goto(f"{live_server_url}/supervisor/reports/")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(reports).to_have_attribute("data-state", "ready", timeout=15000)
    shot(page, "reports-phone-width")
    assert wider_than_window(page) == 0

    # In Chinese, the page and the charts' words alike (and the wallboard too)
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(f"{live_server_url}/supervisor/reports/?lang=zh-hans")
    expect(reports).to_have_attribute("data-state", "ready", timeout=15000)
    expect(page.locator("#summary-title")).to_contain_text("会话")
    expect(page.locator("#kpis [data-kpi=served] dt")).to_have_text("已接待")
    shot(page, "reports-chinese")
    page.goto(f"{live_server_url}/supervisor/?lang=zh-hans")
    expect(page.locator("#conn")).to_have_text("实时")
    expect(page.locator("#tile-queued .tile-label")).to_have_text("排队中")
    shot(page, "wallboard-chinese")
    page.goto(f"{live_server_url}/supervisor/reports/")
    expect(reports).to_have_attribute("data-state", "ready", timeout=15000)

    # The CSVs (of the last week again) download with the API's header rows
    with page.expect_download() as download:
        page.click("#summary-csv")
    lines = Path(download.value.path()).read_text().splitlines()
    assert next(csv.reader(lines)) == SUMMARY_HEADER
    assert len(lines) == 1 + 7  # a day a row
    with page.expect_download() as download:
        page.click("#agents-csv")
    lines = Path(download.value.path()).read_text().splitlines()
    assert next(csv.reader(lines)) == AGENTS_HEADER
    assert not errors, errors


def test_the_workspace_links_to_the_wallboard_for_supervisors_only(client, make_agent):
    # Given an agent who is not a supervisor: no link, and the wallboard is refused
    agent = make_agent(name="eve")
    client.force_login(agent.user)
    page = client.get("/workspace/").content.decode()
    assert 'href="/supervisor/"' not in page
    assert client.get("/supervisor/").status_code == 403

    # When the agent joins the Supervisors group, the workspace links to the wallboard,
    # and the wallboard back to the workspace
    group, _ = Group.objects.get_or_create(name=SUPERVISORS_GROUP)
    agent.user.groups.add(group)
    page = client.get("/workspace/").content.decode()
    assert 'href="/supervisor/"' in page
    wallboard = client.get("/supervisor/").content.decode()
    assert 'href="/workspace/"' in wallboard
    assert 'href="/supervisor/reports/"' in wallboard
