"""Offers: the offered agent accepts or declines; a deadline passes and the session moves on."""

from enum import Enum
from typing import NoReturn
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from agents_app.actions.status import agents_away_after_missed
from agents_app.models import Agent
from agents_app.selectors import service_settings
from core.commit import after_commit
from core.errors import Conflict, NotFound

from .. import events
from ..events import Event
from ..locks import lock_session, lock_standing_offer
from ..models import ChatSession, EventKind, Offer, OfferOutcome, SessionState
from ..prompts import post_locked
from ..routing.requeue import lock_overdue_offers, offers_resolve_locked, requeue_locked
from .transfer import transfer_accept_locked


def offer_accept(*, session_id: UUID | str, agent: Agent) -> ChatSession:
    """The offered agent takes the session before the offer expires (a transfer's target:
    the active session moves to it).

    An agent who was never offered the session gets NotFound (it is someone else's); one whose
    offer expired or was withdrawn gets a Conflict naming why.
    """
    with transaction.atomic():
        session = lock_session(session_id)
        offer = _standing_for(session)
        now = timezone.now()
        if offer is None or offer.agent_id != agent.pk or now >= offer.expires_at:
            _refuse_accept(session, offer, agent)
        if offer.is_transfer:
            transfer_accept_locked(session, offer, agent, now)
            return session
        offer.outcome = OfferOutcome.ACCEPTED
        offer.resolved_at = now
        offer.save(update_fields=["outcome", "resolved_at"])
        session.state = SessionState.ACTIVE
        session.agent = agent
        session.accepted_at = now
        session.last_activity_at = now
        session.save(update_fields=["state", "agent", "accepted_at", "last_activity_at"])
        events.record(
            Event(EventKind.OFFER_ACCEPTED, session, agent.pk, {"offer_id": offer.pk}, offer=offer),
            *post_locked(session, service_settings(), "agent_joined_notice", agent=agent.name),
        )
    return session


def offer_decline(*, session_id: UUID | str, agent: Agent) -> ChatSession:
    """The offered agent says no: the offer ends (declined) at once and the session goes on to
    the next eligible agent, as after an expiry. The decliner is not offered it again while
    anyone else is eligible; a decline does not count towards `missed_offers_before_away`.
    A declined transfer moves nothing: the chat stays with its agent, who hears why."""
    with transaction.atomic():
        session = lock_session(session_id)
        offer = _standing_for(session)
        now = timezone.now()
        if offer is None or offer.agent_id != agent.pk or now >= offer.expires_at:
            _refuse_accept(session, offer, agent)
        offers_resolve_locked([(session, offer)], OfferOutcome.DECLINED, now)
        requeue_locked([(session, offer)])
    session.refresh_from_db()
    return session


def _standing_for(session: ChatSession) -> Offer | None:
    """The locked session's standing offer: a routing offer while it is offered, a transfer
    offer while it is active."""
    if session.state in (SessionState.OFFERED, SessionState.ACTIVE):
        return lock_standing_offer(session)
    return None


def _refuse_accept(session: ChatSession, offer: Offer | None, agent: Agent) -> NoReturn:
    """Raise the error that tells this agent why the session is not theirs to take or decline."""
    if session.agent_id == agent.pk:
        if session.state == SessionState.ACTIVE:
            raise Conflict("You already serve this chat session.", code="already_accepted")
        raise Conflict("This chat session has ended.", code="session_ended")
    if offer is not None and offer.agent_id == agent.pk:
        # Past its deadline but not yet resolved by the timer: refused all the same.
        raise Conflict("This offer has expired.", code="offer_expired")
    latest = Offer.objects.filter(session=session, agent=agent).order_by("-pk").first()
    if latest is None:
        raise NotFound("No such chat session.")
    if session.state == SessionState.ENDED:
        raise Conflict("This chat session has ended.", code="session_ended")
    if latest.outcome == OfferOutcome.EXPIRED:
        raise Conflict("This offer has expired.", code="offer_expired")
    if latest.outcome == OfferOutcome.WITHDRAWN:
        raise Conflict("This offer was withdrawn.", code="offer_withdrawn")
    if latest.outcome == OfferOutcome.DECLINED:
        raise Conflict("You declined this chat.", code="offer_declined")
    raise Conflict("This offer is no longer yours to accept.", code="offer_gone")


class ExpireResult(Enum):
    EXPIRED = "expired"
    NOT_DUE = "not_due"
    GONE = "gone"


def offer_expire(*, offer_id: int, session_id: UUID | str | None = None) -> ExpireResult:
    """Withdraw an offer whose deadline passed and route the session to another agent.

    `session_id` saves a lookup; the offer is re-checked under the lock. Other overdue offers
    whose sessions nobody holds are expired in the same transaction, so a burst of deadlines
    costs one routing pass, not one each.
    """
    # A lock-free look first: a resolved offer never stands again, so a duplicate ends here in
    # one query, without a transaction.
    row = Offer.objects.standing().filter(pk=offer_id).values_list("session_id", "expires_at")
    found = row.first()
    if found is None or (session_id is not None and str(found[0]) != str(session_id)):
        return ExpireResult.GONE
    if timezone.now() < found[1]:
        return ExpireResult.NOT_DUE
    with transaction.atomic():
        try:
            session = lock_session(found[0])
        except NotFound:
            return ExpireResult.GONE
        offer = lock_standing_offer(session)
        if offer is None or offer.pk != offer_id:
            return ExpireResult.GONE
        now = timezone.now()
        if now < offer.expires_at:
            return ExpireResult.NOT_DUE
        pairs = [(session, offer), *lock_overdue_offers(now, exclude={session.pk})]
        _expire_locked(pairs, now)
    return ExpireResult.EXPIRED


def offers_expire_due(*, now=None) -> int:
    """Expire the standing offers due by `now` whose sessions nobody holds, in one transaction
    and one routing pass. Returns how many."""
    with transaction.atomic():
        pairs = lock_overdue_offers(now or timezone.now(), exclude=set())
        if not pairs:
            return 0
        _expire_locked(pairs, timezone.now())
    return len(pairs)


def _expire_locked(pairs: list, now) -> None:
    """Expire locked standing offers, put their sessions back in line, and after the commit
    set away whoever has now missed too many in a row."""
    offers_resolve_locked(pairs, OfferOutcome.EXPIRED, now)
    requeue_locked(pairs)
    after_commit(agents_away_after_missed, agent_ids=sorted({o.agent_id for _, o in pairs}))
