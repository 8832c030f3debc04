"""An agent's status: online, away or offline, why, and what leaving does to its offers."""

from django.db import transaction
from django.utils import timezone

from core.commit import after_commit
from core.errors import Invalid
from sessions_app import events
from sessions_app.events import Event
from sessions_app.locks import lock_sessions
from sessions_app.models import ChatSession, EventKind, Offer, OfferOutcome
from sessions_app.routing.drain import drain_after_commit
from sessions_app.routing.requeue import offers_resolve_locked, requeue_locked

from ..locks import lock_agent
from ..models import Agent, AgentStatus
from ..selectors import service_settings

MAX_REASON = 100
MISSED_OFFERS = "missed_offers"  # the reason the desk gives when it sets an agent away


def agent_set_status(
    *, agent_id: int, status: str, reason: str | None = None, only_if: str | None = None
) -> Agent:
    """Set an agent's status (and why, when not online), in one transaction.

    Going away or offline withdraws its standing offers at once and puts their sessions back
    in line (another agent gets them after the commit); coming online lets its groups' queues
    drain to it. Active chats stay with the agent either way. The reason is free text (up to
    100 characters) and is cleared when the agent comes back online. `only_if`: change
    nothing unless the agent's status is still this one. `agent.updated` reaches its
    workspaces after the commit.
    """
    if status not in AgentStatus.values:
        raise Invalid(f"status must be one of {', '.join(AgentStatus.values)}.", field="status")
    reason = _clean_reason(reason) if status != AgentStatus.ONLINE else ""
    leaving = status != AgentStatus.ONLINE
    with transaction.atomic():
        # Sessions first (the lock order): those this agent is offered now, read unlocked.
        sessions = lock_sessions(_standing_offer_sessions(agent_id)) if leaving else {}
        # Then the agent: a router locks the agents it may choose, so none picks this one
        # while its status changes, and none sees it online once this commits.
        agent = lock_agent(agent_id)
        if only_if is not None and agent.status != only_if:
            return agent
        if reason is None:
            reason = agent.status_reason if agent.status == status else ""
        if agent.status == status and agent.status_reason == reason:
            return agent
        came_online = status == AgentStatus.ONLINE and agent.status != status
        if agent.status != status:
            agent.status_changed_at = timezone.now()
        agent.status, agent.status_reason = status, reason
        agent.save(update_fields=["status", "status_reason", "status_changed_at"])
        if leaving:
            _withdraw_locked(agent, sessions)
        elif came_online:
            drain_after_commit(agent_ids=[agent.pk])
        data = {"status": status, "reason": reason} if reason else {"status": status}
        events.record(
            Event(EventKind.AGENT_STATUS_CHANGED, agent_id=agent.pk, data=data, agent=agent)
        )
    return agent


def _clean_reason(reason: object) -> str | None:
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise Invalid("status_reason must be a string.", field="status_reason")
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise Invalid(f"status_reason is at most {MAX_REASON} characters.", field="status_reason")
    return reason


def _standing_offer_sessions(agent_id: int) -> list:
    standing = Offer.objects.standing().filter(agent_id=agent_id)
    return sorted(set(standing.values_list("session_id", flat=True)))


def _withdraw_locked(agent: Agent, sessions: dict) -> None:
    """Withdraw the agent's standing offers on the locked sessions, and any made before the
    agent's lock was ours whose sessions nobody else holds; the rest, held by someone right
    now, right after the commit."""
    offers = list(Offer.objects.standing().select_for_update().filter(agent=agent))
    late = [o.session_id for o in offers if o.session_id not in sessions]
    if late:
        # After an agent's lock, sessions only with SKIP LOCKED (never waiting).
        held = ChatSession.objects.select_for_update(skip_locked=True).filter(pk__in=late)
        sessions = {**sessions, **{session.pk: session for session in held.order_by("pk")}}
    pairs = [(sessions[o.session_id], o) for o in offers if o.session_id in sessions]
    if pairs:
        offers_resolve_locked(pairs, OfferOutcome.WITHDRAWN, timezone.now())
        # Not routed here: this transaction holds the agent's lock, and routers lock agents.
        requeue_locked(pairs, route=False)
    if len(pairs) < len(offers):
        after_commit(offers_withdraw_for_agent, agent_id=agent.pk)


def offers_withdraw_for_agent(*, agent_id: int) -> int:
    """Withdraw every standing offer of an agent who is not online, re-routing the sessions."""
    session_ids = _standing_offer_sessions(agent_id)
    if not session_ids:
        return 0
    with transaction.atomic():
        sessions = lock_sessions(session_ids)
        agent = lock_agent(agent_id)
        if agent.status == AgentStatus.ONLINE:
            return 0  # back already: its offers stand
        offers = (
            Offer.objects.standing()
            .select_for_update()
            .filter(agent_id=agent_id, session_id__in=sessions)
        )
        pairs = [(sessions[offer.session_id], offer) for offer in offers]
        if pairs:
            offers_resolve_locked(pairs, OfferOutcome.WITHDRAWN, timezone.now())
            requeue_locked(pairs, route=False)
    return len(pairs)


def agents_away_after_missed(*, agent_ids) -> list[int]:
    """Set away (reason `missed_offers`) each online agent whose last offers, as many as the
    settings' `missed_offers_before_away`, all expired unanswered. An accept or a decline
    breaks the run, and so does coming back online. Returns whom it set away."""
    limit = service_settings().missed_offers_before_away
    if not limit:
        return []
    away = []
    for agent in Agent.objects.filter(pk__in=list(agent_ids), status=AgentStatus.ONLINE):
        answered = (OfferOutcome.EXPIRED, OfferOutcome.ACCEPTED, OfferOutcome.DECLINED)
        recent = Offer.objects.filter(agent=agent, outcome__in=answered)
        if agent.status_changed_at is not None:
            recent = recent.filter(created_at__gte=agent.status_changed_at)
        last = list(
            recent.order_by("-resolved_at", "-pk").values_list("outcome", flat=True)[:limit]
        )
        if len(last) == limit and all(outcome == OfferOutcome.EXPIRED for outcome in last):
            agent_set_status(
                agent_id=agent.pk,
                status=AgentStatus.AWAY,
                reason=MISSED_OFFERS,
                only_if=AgentStatus.ONLINE,
            )
            away.append(agent.pk)
    return away
