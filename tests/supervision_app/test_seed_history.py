"""`manage.py seed_history`: the past a report reads, in the shape a real desk leaves it."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

from agents_app.models import Agent, AgentStatus
from sessions_app.models import (
    ChatSession,
    EndReason,
    EventKind,
    Offer,
    OfferKind,
    OfferOutcome,
    Rating,
    SessionEvent,
    SessionState,
)
from skills_app.models import SkillGroup

pytestmark = pytest.mark.django_db


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_history", stdout=out, **options)
    return out.getvalue()


def test_seeded_history_has_the_shape_a_report_needs():
    """Given an empty desk, when 300 chats are seeded over 7 days, then every chat ended with a
    reason inside the window, served ones waited and were handled, some were abandoned, some
    offers were missed, some chats transferred and some rated, and the agents have shifts."""
    before = timezone.now()

    printed = seed(sessions=300, days=7, seed=7)

    after = timezone.now()
    sessions = ChatSession.objects.all()
    assert sessions.count() == 300
    assert "seeded 300 sessions" in printed
    assert set(SkillGroup.objects.values_list("name", flat=True)) >= {"Billing", "Technical"}
    assert not sessions.exclude(state=SessionState.ENDED).exists()
    assert not sessions.filter(end_reason="").exists()
    assert not sessions.filter(ended_at__gt=after).exists()
    assert not sessions.filter(created_at__lt=before - timedelta(days=7)).exists()
    assert not sessions.filter(ended_at__lt=F("created_at")).exists()

    served = sessions.filter(accepted_at__isnull=False)
    assert served.count() > 150
    assert not served.filter(agent__isnull=True).exists()
    assert not served.filter(accepted_at__lt=F("created_at")).exists()  # waits ≥ 0
    assert not served.filter(ended_at__lte=F("accepted_at")).exists()  # handle times > 0
    assert served.filter(accepted_at__gt=F("created_at") + timedelta(minutes=1)).exists()
    reasons = set(served.values_list("end_reason", flat=True))
    assert reasons == {
        EndReason.AGENT_ENDED,
        EndReason.CUSTOMER_ENDED,
        EndReason.CUSTOMER_IDLE_TIMEOUT,
    }

    abandoned = sessions.filter(accepted_at__isnull=True, end_reason=EndReason.CUSTOMER_ENDED)
    assert abandoned.exists()
    assert not abandoned.filter(agent__isnull=False).exists()
    assert sessions.filter(end_reason=EndReason.QUEUE_TIMEOUT, agent__isnull=True).exists()

    # Manual mode (the default): each served chat has the offer its first agent accepted.
    offers = Offer.objects.all()
    routing_accepted = offers.filter(kind=OfferKind.ROUTING, outcome=OfferOutcome.ACCEPTED)
    assert routing_accepted.count() == served.count()
    assert not offers.filter(outcome=OfferOutcome.STANDING).exists()
    assert not offers.filter(resolved_at__lt=F("created_at")).exists()
    missed = offers.filter(outcome__in=[OfferOutcome.EXPIRED, OfferOutcome.DECLINED])
    assert missed.exists()
    assert not missed.filter(outcome=OfferOutcome.EXPIRED, resolved_at__lt=F("expires_at")).exists()
    for offer in offers:
        assert offer.expires_at - offer.created_at == timedelta(seconds=offer.timeout_seconds)

    transfers = offers.filter(kind=OfferKind.TRANSFER)
    assert transfers.exists()
    for transfer in transfers.select_related("session"):
        assert transfer.outcome == OfferOutcome.ACCEPTED
        assert transfer.from_agent_id not in (None, transfer.agent_id)
        assert transfer.session.agent_id == transfer.agent_id
        assert transfer.session.accepted_at < transfer.created_at < transfer.session.ended_at

    ratings = Rating.objects.select_related("session")
    assert 0.15 * served.count() < ratings.count() < 0.45 * served.count()
    for rating in ratings:
        assert 1 <= rating.score <= rating.scale == 5
        assert rating.session.ended_at < rating.created_at <= after
        assert rating.agent_id == rating.session.agent_id

    seeded = Agent.objects.filter(user__username__startswith="seed-agent-")
    assert seeded.count() >= 10
    assert not seeded.exclude(status=AgentStatus.OFFLINE).exists()
    assert not any(agent.user.has_usable_password() for agent in seeded.select_related("user"))
    statuses = SessionEvent.objects.filter(kind=EventKind.AGENT_STATUS_CHANGED)
    assert not statuses.filter(session__isnull=False).exists()
    assert not statuses.filter(created_at__gt=after).exists()
    for agent in seeded:
        history = list(statuses.filter(agent=agent).order_by("created_at", "pk"))
        assert len(history) >= 3, agent
        assert {e.data["status"] for e in history} <= set(AgentStatus.values)
        assert history[-1].data["status"] == AgentStatus.OFFLINE
        assert agent.status_changed_at == history[-1].created_at


def test_seeding_twice_adds_history_and_keeps_every_constraint():
    """Given a seeded desk, when the same seed is run again, then the history doubles and no
    new agents are needed."""
    seed(sessions=60, days=2, seed=3, quiet=True)
    agents = Agent.objects.count()

    printed = seed(sessions=60, days=2, seed=3, quiet=True)

    assert printed == ""
    assert ChatSession.objects.count() == 120
    assert Agent.objects.count() == agents


def test_asking_for_more_agents_seeds_them_into_groups():
    """Given --agents 25, then the desk has 25 agents, each in the default group and another."""
    seed(sessions=10, days=1, agents=25, seed=1, quiet=True)

    agents = Agent.objects.all()
    assert agents.count() == 25
    for agent in agents.prefetch_related("memberships__group"):
        groups = [m.group for m in agent.memberships.all()]
        assert any(g.is_default for g in groups) and len(groups) >= 2
