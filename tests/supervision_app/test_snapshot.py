"""The wallboard's snapshot against hand-computed figures, and its REST endpoint."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from sessions_app.models import ChatSession, Offer, OfferKind, OfferOutcome
from supervision_app.snapshot import build_snapshot

pytestmark = pytest.mark.django_db

S = timedelta(seconds=1)


def _zone_far_from_midnight(now) -> str:
    """A zone where today began hours ago and ends hours from now: "today" is unambiguous."""
    for name in ("UTC", "Asia/Tokyo", "America/New_York", "Pacific/Auckland"):
        if 2 <= now.astimezone(ZoneInfo(name)).hour < 22:
            return name
    raise AssertionError("no zone far from midnight")


def chat(now, ago, *, state, group=None, agent=None, wait=None, reason="", ended_ago=None):
    created = now - ago * S
    session = ChatSession.objects.create(
        customer_name=f"customer {ago}",
        customer_token_hash="0" * 64,
        state=state,
        skill_group=group,
        agent=agent,
        accepted_at=created + wait * S if wait is not None else None,
        ended_at=now - ended_ago * S if ended_ago is not None else None,
        end_reason=reason,
    )
    ChatSession.objects.filter(pk=session.pk).update(created_at=created)
    session.refresh_from_db()
    return session


def offer(session, agent, *, outcome, resolved_ago=None, now):
    return Offer.objects.create(
        session=session,
        agent=agent,
        expires_at=now + 30 * S,
        timeout_seconds=30,
        outcome=outcome,
        resolved_at=now - resolved_ago * S if resolved_ago is not None else None,
        kind=OfferKind.ROUTING,
    )


@pytest.fixture
def floor(service_settings, make_agent, make_group):
    now = timezone.now()
    service_settings.timezone = _zone_far_from_midnight(now)
    service_settings.service_level_seconds = 20
    service_settings.default_max_sessions = 5
    service_settings.save()
    x = make_agent(name="xena", max_sessions=3)
    y = make_agent(name="yuri", status="away")
    billing, tech = make_group("Billing", {x: 1}), make_group("Tech", {x: 2, y: 1})
    chat(now, 40, state="queued", group=billing)
    chat(now, 10, state="queued", group=tech)
    offered = chat(now, 25, state="offered", group=billing)
    offer(offered, x, outcome=OfferOutcome.STANDING, now=now)
    chat(now, 300, state="active", group=billing, agent=x, wait=15)  # within 20 s
    chat(now, 200, state="active", agent=y, wait=25)  # no group; over 20 s
    chat(
        now, 900, state="ended", group=billing, agent=x, wait=5, reason="agent_ended", ended_ago=600
    )
    # Missed offers: one 10 minutes ago counts, one 40 minutes ago and a decline do not.
    gone = chat(now, 3000, state="ended", group=billing, reason="customer_ended", ended_ago=2000)
    offer(gone, y, outcome=OfferOutcome.EXPIRED, resolved_ago=600, now=now)
    offer(gone, x, outcome=OfferOutcome.EXPIRED, resolved_ago=2400, now=now)
    offer(gone, x, outcome=OfferOutcome.DECLINED, resolved_ago=300, now=now)
    # Abandoned: left unserved 20 minutes ago counts; 31 minutes ago does not.
    chat(now, 1500, state="ended", group=tech, reason="customer_ended", ended_ago=1200)
    chat(now, 2000, state="ended", group=tech, reason="customer_ended", ended_ago=31 * 60)
    return {"now": now, "x": x, "y": y, "billing": billing, "tech": tech}


def test_snapshot_figures_per_group_and_in_total(floor):
    snap = build_snapshot(now=floor["now"])
    assert snap["totals"] == {
        "queued": 2,
        "offered": 1,
        "active": 2,
        "longest_wait_seconds": 40.0,
        "service_level": 0.6667,  # 15 s and 5 s within 20 s, 25 s not
        "missed_offers_30m": 1,
        "abandoned_30m": 1,
    }
    groups = {g["name"]: g for g in snap["groups"]}
    assert groups["Billing"] == {
        "id": str(floor["billing"].pk),
        "name": "Billing",
        "queued": 1,
        "offered": 1,
        "active": 1,
        "longest_wait_seconds": 40.0,
        "service_level": 1.0,
        "missed_offers_30m": 1,
        "abandoned_30m": 0,
    }
    tech = groups["Tech"]
    assert (tech["queued"], tech["active"], tech["longest_wait_seconds"]) == (1, 0, 10.0)
    assert tech["service_level"] is None  # nothing of Tech served today
    assert tech["abandoned_30m"] == 1


def test_snapshot_agents_and_waiting(floor):
    snap = build_snapshot(now=floor["now"])
    agents = {a["display_name"]: a for a in snap["agents"]}
    x, y = agents[floor["x"].name], agents[floor["y"].name]
    assert (x["status"], x["load"], x["capacity"]) == ("online", 2, 3)  # active + standing offer
    assert (y["status"], y["load"], y["capacity"]) == ("away", 1, 5)
    assert set(x["skill_groups"]) >= {str(floor["billing"].pk), str(floor["tech"].pk)}
    assert snap["agents"].index(x) < snap["agents"].index(y)  # online first
    waiting = snap["waiting"]
    assert [(w["state"], w["waiting_seconds"]) for w in waiting] == [
        ("queued", 40.0),
        ("offered", 25.0),
        ("queued", 10.0),
    ]
    assert waiting[0]["skill_group_id"] == str(floor["billing"].pk)
    # The chats being served (an extension), the longest first, with their agents.
    assert [(a["agent_id"], a["serving_seconds"]) for a in snap["active"]] == [
        (str(floor["x"].pk), 285.0),  # created 300 s ago, accepted after 15 s
        (str(floor["y"].pk), 175.0),
    ]


def test_snapshot_endpoint_answers_supervisors(floor, client, django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("sup-snapshot", password="pw")
    user.groups.add(Group.objects.get_or_create(name="Supervisors")[0])
    client.force_login(user)
    data = client.get("/api/supervisor/snapshot/").json()
    assert set(data) >= {"generated_at", "totals", "groups", "agents", "waiting"}
    assert data["totals"]["queued"] == 2
