"""The reports' figures against hand-computed values on a small fixed history.

The desk's zone is New York, and the history spans 1 November 2026, when its clocks went back
(a 25-hour day with 01:00-02:00 twice). Times below are UTC; each chat's local day is noted.
"""

from datetime import UTC, date, datetime, timedelta

import pytest

from sessions_app.actions.end import session_end
from sessions_app.models import (
    ChatSession,
    EventKind,
    Offer,
    OfferKind,
    OfferOutcome,
    Rating,
    SessionEvent,
)
from supervision_app.models import ReportDay
from supervision_app.reports import (
    _time_in_status,
    agents_report,
    percentile,
    summary_report,
    time_in_status_python,
)
from supervision_app.rollup import rollup_days

pytestmark = pytest.mark.django_db

S = timedelta(seconds=1)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def chat(
    created,
    *,
    wait=None,
    handle=None,
    reason="agent_ended",
    group=None,
    agent=None,
    rating=None,
    open_state=None,
):
    """An ended chat (or an open one: `open_state`), written through the models."""
    accepted = created + wait * S if wait is not None else None
    ended = None
    if open_state is None:
        ended = (accepted or created) + (handle if handle is not None else 60) * S
    session = ChatSession.objects.create(
        customer_name="c",
        customer_token_hash="0" * 64,
        state=open_state or "ended",
        skill_group=group,
        agent=agent if accepted else None,
        accepted_at=accepted,
        ended_at=ended,
        end_reason="" if open_state else reason,
    )
    ChatSession.objects.filter(pk=session.pk).update(created_at=created)
    if rating is not None:
        Rating.objects.create(session=session, agent=agent, score=rating, scale=5)
    session.refresh_from_db()
    return session


@pytest.fixture
def history(service_settings, make_agent, make_group):
    service_settings.timezone = "America/New_York"
    service_settings.save()
    x, y = make_agent(name="xavier"), make_agent(name="yvonne")
    billing, tech = make_group("Billing"), make_group("Tech")
    chats = {
        # 31 Oct (EDT, UTC-4)
        "A": chat(utc(2026, 10, 31, 12), wait=10, handle=290, group=billing, agent=x, rating=5),
        "B": chat(
            utc(2026, 10, 31, 14),
            wait=40,
            handle=60,
            reason="customer_idle_timeout",
            group=billing,
            agent=x,
            rating=3,
        ),
        # 23:59:50 on 31 Oct in New York, answered after its midnight: still 31 Oct's
        "C": chat(utc(2026, 11, 1, 3, 59, 50), wait=30, handle=600, group=tech, agent=y),
        # 1 Nov: 01:30 EDT, then 01:30 EST an hour later
        "D": chat(utc(2026, 11, 1, 5, 30), reason="customer_ended", group=tech),
        "E": chat(utc(2026, 11, 1, 6, 30), reason="queue_timeout", group=billing),
        # 23:30 EST on 1 Nov
        "F": chat(utc(2026, 11, 2, 4, 30), wait=5, handle=50, group=billing, agent=y),
        # midnight EST, 2 Nov; no group
        "G": chat(utc(2026, 11, 2, 5), wait=50, handle=150, agent=x),
        # outside 31 Oct - 2 Nov on either side
        "H": chat(utc(2026, 11, 3, 5), wait=1, agent=x),
        "I": chat(utc(2026, 10, 31, 3, 59, 59), wait=1, agent=x),
    }
    return {"x": x, "y": y, "billing": billing, "tech": tech, **chats}


RANGE = {"date_from": date(2026, 10, 31), "date_to": date(2026, 11, 2)}

EXPECTED_DAYS = [
    {
        "start": "2026-10-31T00:00:00-04:00",
        "created": 3,
        "served": 3,
        "abandoned": 0,
        "idle_ended": 1,
        "timed_out": 0,
        "wait_p50": 30.0,
        "wait_p90": 38.0,  # waits 10, 30, 40: 30 + 0.8 x 10
        "handle_avg": 316.7,  # (290 + 60 + 600) / 3
        "rating_avg": 4.0,
        "rating_count": 2,
    },
    {
        "start": "2026-11-01T00:00:00-04:00",
        "created": 3,
        "served": 1,
        "abandoned": 1,
        "idle_ended": 0,
        "timed_out": 1,
        "wait_p50": 5.0,
        "wait_p90": 5.0,
        "handle_avg": 50.0,
        "rating_avg": None,
        "rating_count": 0,
    },
    {
        "start": "2026-11-02T00:00:00-05:00",
        "created": 1,
        "served": 1,
        "abandoned": 0,
        "idle_ended": 0,
        "timed_out": 0,
        "wait_p50": 50.0,
        "wait_p90": 50.0,
        "handle_avg": 150.0,
        "rating_avg": None,
        "rating_count": 0,
    },
]


def test_daily_summary_counts_each_chat_on_the_local_day_it_arrived(history):
    report = summary_report(**RANGE, bucket="day")
    assert report["timezone"] == "America/New_York"
    assert report["buckets"] == EXPECTED_DAYS


def test_group_filter_counts_only_that_groups_chats(history):
    report = summary_report(**RANGE, bucket="day", group_id=history["billing"].pk)
    first, second, third = report["buckets"]
    assert (first["created"], first["served"], first["wait_p50"], first["wait_p90"]) == (
        2,
        2,
        25.0,  # waits 10 and 40
        37.0,  # 10 + 0.9 x 30
    )
    assert (second["created"], second["served"], second["timed_out"]) == (2, 1, 1)
    assert third["created"] == 0 and third["wait_p50"] is None and third["handle_avg"] is None


def test_hourly_buckets_keep_the_repeated_hour_of_the_autumn_change_apart(history):
    day = date(2026, 11, 1)
    report = summary_report(date_from=day, date_to=day, bucket="hour")
    buckets = {b["start"]: b["created"] for b in report["buckets"]}
    assert len(report["buckets"]) == 25  # the day the clocks went back
    assert buckets["2026-11-01T01:00:00-04:00"] == 1  # D, at the first 01:30
    assert buckets["2026-11-01T01:00:00-05:00"] == 1  # E, an hour later, at the second
    assert buckets["2026-11-01T23:00:00-05:00"] == 1  # F
    assert sum(buckets.values()) == 3  # C belongs to 31 October


def test_hours_of_a_half_hour_zone_start_on_its_own_clock(history, service_settings):
    service_settings.timezone = "Asia/Kolkata"  # UTC+05:30
    service_settings.save()
    day = date(2026, 11, 1)  # D at 05:30 UTC is 11:00 there, E at 06:30 UTC is 12:00
    report = summary_report(date_from=day, date_to=day, bucket="hour")
    buckets = {b["start"]: b["created"] for b in report["buckets"]}
    assert len(buckets) == 24
    assert buckets["2026-11-01T11:00:00+05:30"] == 1
    assert buckets["2026-11-01T12:00:00+05:30"] == 1


def test_rollups_give_the_same_figures_and_a_late_change_drops_its_day(history):
    late = chat(utc(2026, 11, 2, 10), open_state="queued")
    assert rollup_days() > 0
    assert ReportDay.objects.filter(day=date(2026, 11, 2), group=None).exists()
    rolled = summary_report(**RANGE, bucket="day")
    assert rolled["buckets"][:2] == EXPECTED_DAYS[:2]
    assert rolled["buckets"][2]["created"] == 2  # G, and the chat still waiting

    # Weeks later the customer leaves: 2 November's rows go, and the report sees the change.
    session_end(session_id=late.pk, reason="customer_ended")
    assert not ReportDay.objects.filter(day=date(2026, 11, 2)).exists()
    assert ReportDay.objects.filter(day=date(2026, 11, 1)).exists()
    assert summary_report(**RANGE, bucket="day")["buckets"][2]["abandoned"] == 1
    rollup_days()
    assert summary_report(**RANGE, bucket="day")["buckets"][2]["abandoned"] == 1


def test_agents_report(history):
    x, y = history["x"], history["y"]
    # Y let A's offer expire; X declined C's; B came to X from Y by transfer.
    offers = [
        (history["A"], y, OfferOutcome.EXPIRED, OfferKind.ROUTING, None),
        (history["C"], x, OfferOutcome.DECLINED, OfferKind.ROUTING, None),
        (history["B"], x, OfferOutcome.ACCEPTED, OfferKind.TRANSFER, y),
        (history["H"], y, OfferOutcome.EXPIRED, OfferKind.ROUTING, None),  # after the range
    ]
    for session, agent, outcome, kind, from_agent in offers:
        offer = Offer.objects.create(
            session=session,
            agent=agent,
            expires_at=session.created_at + 30 * S,
            timeout_seconds=30,
            outcome=outcome,
            resolved_at=session.created_at + 20 * S,
            kind=kind,
            from_agent=from_agent,
        )
        Offer.objects.filter(pk=offer.pk).update(created_at=session.created_at)
    # X: online since before the range, away at 16:00 UTC on 31 Oct, offline at 17:00.
    # Y: online from 10:00 UTC on 1 Nov to the end of the range (05:00 UTC on 3 Nov).
    statuses = [
        (x, utc(2026, 10, 30, 12), "online"),
        (x, utc(2026, 10, 31, 16), "away"),
        (x, utc(2026, 10, 31, 17), "offline"),
        (y, utc(2026, 11, 1, 10), "online"),
    ]
    SessionEvent.objects.filter(kind=EventKind.AGENT_STATUS_CHANGED).delete()
    for agent, at, status in statuses:
        event = SessionEvent.objects.create(
            kind=EventKind.AGENT_STATUS_CHANGED, agent=agent, data={"status": status}
        )
        SessionEvent.objects.filter(pk=event.pk).update(created_at=at)

    report = agents_report(**RANGE)
    rows = {row["agent"]["id"]: row for row in report["agents"]}
    # SQLite's way (Python) adds up the same time in each status as PostgreSQL's (SQL).
    start, end = utc(2026, 10, 31, 4), utc(2026, 11, 3, 5)
    assert sorted(time_in_status_python(start, end)) == sorted(_time_in_status(start, end))
    assert rows[str(x.pk)] == {
        "agent": {"id": str(x.pk), "display_name": x.name},
        "served": 3,  # A, B, G
        "missed_offers": 0,
        "declined": 1,
        "transfers_out": 0,
        "handle_avg": 166.7,  # (290 + 60 + 150) / 3
        "rating_avg": 4.0,
        "online_seconds": 12 * 3600,  # 04:00 UTC (midnight in New York) to 16:00
        "away_seconds": 3600,
    }
    assert rows[str(y.pk)] == {
        "agent": {"id": str(y.pk), "display_name": y.name},
        "served": 2,  # C, F
        "missed_offers": 1,
        "declined": 0,
        "transfers_out": 1,
        "handle_avg": 325.0,
        "rating_avg": None,
        "online_seconds": 43 * 3600,
        "away_seconds": 0,
    }


def test_percentile_interpolates_between_ranks():
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([10.0, 20.0], 0.9) == 19.0


def test_reports_over_rest_as_json_and_csv(history, client, django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("sup-csv", password="pw")
    user.groups.add(Group.objects.get_or_create(name="Supervisors")[0])
    client.force_login(user)
    query = "from=2026-10-31&to=2026-11-02"
    data = client.get(f"/api/reports/summary/?{query}&bucket=day").json()
    assert data["buckets"] == EXPECTED_DAYS and data["group"] is None

    got = client.get(f"/api/reports/summary/?{query}&format=csv")
    assert got.status_code == 200 and got["Content-Type"].startswith("text/csv")
    assert got["Content-Disposition"].startswith("attachment;")
    lines = got.content.decode().splitlines()
    assert lines[0] == (
        "start,created,served,abandoned,idle_ended,timed_out,wait_p50,wait_p90,handle_avg,"
        "rating_avg,rating_count"
    )
    assert lines[1] == "2026-10-31T00:00:00-04:00,3,3,0,1,0,30.0,38.0,316.7,4.0,2"
    assert lines[2].endswith(",5.0,5.0,50.0,,0")  # no rating: an empty cell

    history["x"].display_name = "=HYPERLINK(evil)"
    history["x"].save()
    agents = client.get(f"/api/reports/agents/?{query}&format=csv").content.decode()
    assert agents.splitlines()[0].startswith("agent_id,display_name,served,missed_offers,")
    assert "'=HYPERLINK(evil)" in agents  # a spreadsheet shows it as text

    bad = client.get(f"/api/reports/summary/?{query}&bucket=week&format=csv")
    assert bad.status_code == 400 and bad.json()["field"] == "bucket"
    long = client.get("/api/reports/summary/?from=2026-01-01&to=2026-03-01&bucket=hour")
    assert long.status_code == 400 and long.json()["code"] == "range_too_long"
    assert client.get("/api/reports/agents/?to=0001-01-01").status_code == 400
    assert client.get("/api/reports/summary/?group=999999").status_code == 404
