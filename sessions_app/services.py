"""Every state change of a chat session: create, allocate, offer, accept, expire, message, end.

Each function runs in one transaction, locks rows in the order of `locks.py`, checks the state,
writes with `update_fields`, and registers pushes and timer tasks with `on_commit`.
"""

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import NoReturn
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from agents_app.models import Agent, AgentStatus, ServiceMode, ServiceSettings

from . import push, selectors, timers
from .errors import Conflict, Invalid, NotFound
from .locks import (
    lock_session,
    lock_standing_offer,
    routing_generation,
    routing_wanted,
    try_lock_routing,
)
from .models import (
    ChatSession,
    EndReason,
    Message,
    Offer,
    OfferOutcome,
    Sender,
    SessionEvent,
    SessionState,
)

log = logging.getLogger(__name__)

MAX_BODY = 4000
MAX_NAME = 100
DRAIN_BATCH = 200


def _after_commit(func, *args, **kwargs) -> None:
    """Run `func` once the transaction commits; a failure there is logged, never raised."""

    def after_commit() -> None:
        try:
            func(*args, **kwargs)
        except Exception:  # noqa: BLE001 -- the commit stands; the sweep or seq covers the rest
            log.exception("after-commit %s failed", getattr(func, "__name__", func))

    transaction.on_commit(after_commit)


def _publish_after_commit(*events: tuple[str, str, dict]) -> None:
    """Publish (group, type, payload) events together, in order, once the transaction commits."""

    def publish_all() -> None:
        with push.batch():
            for group, event_type, payload in events:
                push.publish(group, event_type, **payload)

    if events:
        _after_commit(publish_all)


def _event(session: ChatSession, kind: str, agent: Agent | None = None, **data) -> None:
    _events_save([SessionEvent(session=session, kind=kind, agent=agent, data=data)])


def _events_save(events: list[SessionEvent]) -> None:
    """Insert audit rows in one query; log each once the transaction commits."""
    if not events:
        return
    SessionEvent.objects.bulk_create(events)

    def log_events() -> None:
        # One log line per step of a session's life, once it is true (LOG_FORMAT=json for ops).
        for event in events:
            log.info(
                "session %s: %s",
                event.session_id,
                event.kind,
                extra={
                    "session_id": str(event.session_id),
                    "event": event.kind,
                    "agent_id": event.agent_id,
                    "data": event.data,
                },
            )

    _after_commit(log_events)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def clean_body(body: object) -> str:
    if not isinstance(body, str):
        raise Invalid("A message body must be a string.", field="body")
    text = body.strip()
    if not text:
        raise Invalid("A message body must not be empty.", field="body")
    if len(text) > MAX_BODY:
        raise Invalid(f"A message body is at most {MAX_BODY} characters.", field="body")
    return text


# --- timers: scheduled after commit, always re-checked by the service when they fire ---------


def _drain_after_commit() -> None:
    _after_commit(queue_drain)


# --- routing -----------------------------------------------------------------------------------


@dataclass
class _Candidate:
    """What routing needs of an online agent: plain values, no model instances (it is hot).

    `rank` orders agents by when they were last assigned, never first (as the database
    orders them); everyone assigned during this transaction shares the last rank, so ties go
    to the lower id, as they do once the shared `now` is written.
    """

    pk: int
    capacity: int
    rank: int


_ASSIGNED_NOW = 1 << 30  # the rank of an agent assigned in this transaction: after all others


@dataclass
class _Candidates:
    """Online agents with their loads, kept current while one transaction routes sessions."""

    cfg: ServiceSettings
    agents: list[_Candidate] = field(default_factory=list)
    load: dict[int, int] = field(default_factory=dict)
    skipped_status: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load_locked(cls, cfg: ServiceSettings) -> "_Candidates":
        """Call with the routing lock held, so loads cannot change under us.

        One statement and plain tuples: every allocation waits for this lock, and the ORM's
        version (two annotated querysets, a datetime per agent) cost about a quarter of a
        create's CPU with 200 agents.
        """
        found = cls(cfg=cfg)
        with connection.cursor() as cursor:
            cursor.execute(selectors.ROUTING_CANDIDATES_SQL, [AgentStatus.ONLINE])
            rows = cursor.fetchall()
        default = cfg.default_max_sessions
        for rank, (pk, status, max_sessions, load) in enumerate(rows):
            if status == AgentStatus.ONLINE:
                found.agents.append(_Candidate(pk, max_sessions or default, rank))
                found.load[pk] = load
            else:
                found.skipped_status.setdefault(status, []).append(pk)
        found.agents.sort(key=lambda a: a.pk)  # decisions list agents by id
        for status, ids in found.skipped_status.items():
            found.skipped_status[status] = [str(pk) for pk in sorted(ids)]
        return found

    def free_slots(self) -> int:
        return sum(max(0, a.capacity - self.load[a.pk]) for a in self.agents)

    def choose(
        self, session: ChatSession, missed: set[int] | None = None
    ) -> tuple[_Candidate | None, dict]:
        """Least loaded eligible agent, least recently assigned first; and why others lost."""
        missed = selectors.agents_missed(session) if missed is None else missed
        at_capacity, eligible = [], []
        load = self.load
        for agent in self.agents:
            if load[agent.pk] >= agent.capacity:
                at_capacity.append(str(agent.pk))
            else:
                eligible.append(agent)
        fresh = [a for a in eligible if a.pk not in missed] if missed else eligible
        pool = fresh or eligible
        decision = {
            "at_capacity": at_capacity,
            "away": self.skipped_status.get(AgentStatus.AWAY, []),
            "offline": self.skipped_status.get(AgentStatus.OFFLINE, []),
            "missed_this_session": [str(a.pk) for a in eligible if a.pk in missed and fresh],
            "reoffered_to_missed": bool(eligible and not fresh),
        }
        if not pool:
            return None, decision
        chosen = min(pool, key=lambda a: (load[a.pk], a.rank, a.pk))
        load[chosen.pk] += 1
        return chosen, decision


def _route_locked(
    sessions: list[ChatSession], candidates: _Candidates, now: datetime
) -> list[ChatSession]:
    """Offer or assign locked sessions (in the given order) to the best agents.

    Returns the routed ones; the others keep their in-memory state for the caller to save.
    The writes are batched (a fixed number of queries however many sessions), because the
    routing lock is held throughout and every other allocation waits for it.
    """
    if not sessions:
        return []
    cfg = candidates.cfg
    manual = cfg.service_mode != ServiceMode.AUTO
    missed = selectors.agents_missed_many([s.pk for s in sessions])
    events: list[SessionEvent] = []
    routed: list[tuple[ChatSession, _Candidate]] = []
    for session in sessions:
        agent, decision = candidates.choose(session, missed.get(session.pk, set()))
        if agent is None:
            events.append(SessionEvent(session=session, kind="routing.queued", data=decision))
            continue
        events.append(
            SessionEvent(session=session, kind="routing.chosen", agent_id=agent.pk, data=decision)
        )
        agent.rank = _ASSIGNED_NOW
        session.last_activity_at = now
        if manual:
            session.state = SessionState.OFFERED
        else:
            session.state = SessionState.ACTIVE
            session.agent_id = agent.pk
            session.accepted_at = now
            events.append(
                SessionEvent(session=session, kind="session.assigned", agent_id=agent.pk, data={})
            )
        routed.append((session, agent))
    if not routed:
        _events_save(events)
        return []
    Agent.objects.filter(pk__in={agent.pk for _, agent in routed}).update(last_assigned_at=now)
    fields = ["state", "last_activity_at"] + ([] if manual else ["agent", "accepted_at"])
    ChatSession.objects.bulk_update([session for session, _ in routed], fields)
    offers: list[Offer] = []
    if manual:
        timeout = cfg.accept_timeout_seconds
        offers = Offer.objects.bulk_create(
            [
                Offer(
                    session=session,
                    agent_id=agent.pk,
                    expires_at=now + timedelta(seconds=timeout),
                    timeout_seconds=timeout,
                )
                for session, agent in routed
            ]
        )
        for offer in offers:
            offer.session.offer_made = offer  # the session's dict needs no query for it
        events += [
            SessionEvent(
                session=offer.session,
                kind="offer.made",
                agent_id=offer.agent_id,
                data={"offer_id": offer.pk, "expires_at": selectors.iso(offer.expires_at)},
            )
            for offer in offers
        ]
    _events_save(events)
    if manual:
        firsts = selectors.first_customer_messages([s.pk for s, _ in routed])
        _after_commit(_announce_offers, offers, firsts)
    else:
        _after_commit(_announce_assigned, [session for session, _ in routed])
    return [session for session, _ in routed]


def _announce_offers(offers: list[Offer], firsts: dict) -> None:
    """After commit: the countdown first (it is the timer), then the pushes."""
    timers.schedule(*(offer.expires_at for offer in offers))
    with push.batch():
        for offer in offers:
            data = selectors.session_dict(offer.session, offer=offer)
            payload = {
                "id": str(offer.pk),
                "expires_at": selectors.iso(offer.expires_at),
                "countdown_seconds": offer.timeout_seconds,
            }
            push.to_customer(offer.session_id, "session.updated", session=data)
            data["first_message"] = firsts.get(offer.session_id)
            push.to_agent(offer.agent_id, "session.offered", session=data, offer=payload)


def _announce_assigned(sessions: list[ChatSession]) -> None:
    with push.batch():
        for session in sessions:
            data = selectors.session_dict(session)
            push.to_agent(session.agent_id, "session.assigned", session=data)
            push.to_customer(session.pk, "session.updated", session=data)


def _requeue_locked(sessions: list[ChatSession]) -> None:
    """Locked sessions go back to the queue; routing is tried for them at once, oldest first.

    Only if the routing lock is free: this transaction holds session locks, and a router that
    waits while holding them stalls everyone who wants those sessions. Otherwise they wait in
    the queue until this commits, and the drain after it routes them (that drain says routing
    is wanted: before the commit, a router could see neither these sessions nor the room
    their offers free).
    """
    sessions = sorted(sessions, key=lambda s: (s.created_at, s.pk))
    for session in sessions:
        session.state = SessionState.QUEUED
    cfg = try_lock_routing()
    routed: set = set()
    if cfg is not None:
        candidates = _Candidates.load_locked(cfg)
        routed = {s.pk for s in _route_locked(sessions, candidates, timezone.now())}
    waiting = [s.pk for s in sessions if s.pk not in routed]
    if waiting:
        # Written once: routed ones were saved by _route_locked with their new state.
        ChatSession.objects.filter(pk__in=waiting).update(state=SessionState.QUEUED)
    # After commit, in this order: route who waits (and into the slots the offers freed),
    # record why any still wait if no router looked at them here, tell them their place.
    _drain_after_commit()
    if waiting and cfg is None:
        _after_commit(_audit_requeued, waiting)
    if waiting:
        _after_commit(_push_queue_positions)


def _push_queue_positions(limit: int = DRAIN_BATCH) -> None:
    """Tell queued customers their new place in line."""
    with push.batch():
        for position, session in enumerate(selectors.queued_sessions(limit), start=1):
            data = selectors.session_dict(session, position=position)
            push.to_customer(session.pk, "session.updated", session=data)


# --- create and allocate -----------------------------------------------------------------------


def session_create(*, customer_name: str, message: str | None = None) -> tuple[ChatSession, str]:
    """Open a chat for an anonymous customer and route it. Returns the session and its secret."""
    name = customer_name.strip() if isinstance(customer_name, str) else ""
    if not name:
        raise Invalid("customer_name must not be empty.", field="customer_name")
    if len(name) > MAX_NAME:
        raise Invalid(f"customer_name is at most {MAX_NAME} characters.", field="customer_name")
    body = clean_body(message) if message not in (None, "") else None
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        session = ChatSession.objects.create(
            customer_name=name, customer_token_hash=hash_token(token)
        )
        _event(session, "session.created")
        if body:
            Message.objects.create(session=session, sender=Sender.CUSTOMER, body=body)
    # Routing takes the queue in creation order, so a newcomer never jumps the line.
    drained = _queue_drain(queued=True, watch=session.pk)
    if drained.watched is not None and drained.watched.state == SessionState.OFFERED:
        session = drained.watched  # offered here: as it was written, its offer attached
    else:
        session = selectors.session_get(session.pk)
    if session.state == SessionState.QUEUED and drained.held_lock:
        # We routed and found no room: say why. (If someone else was routing, it goes on and
        # routes this one too; no verdict to record yet.)
        _audit_queued(session)
    return session, token


def _audit_queued(*sessions: ChatSession) -> None:
    """Record why sessions wait: the drain found no free agent (read without locks)."""
    candidates = _Candidates.load_locked(selectors.service_settings())
    events = []
    for session in sessions:
        agent, decision = candidates.choose(session)
        if agent is None:
            events.append(SessionEvent(session=session, kind="routing.queued", data=decision))
    _events_save(events)


def _audit_requeued(session_ids: list) -> None:
    """After the drain: those of the requeued sessions that still wait, and why."""
    waiting = list(ChatSession.objects.filter(pk__in=session_ids, state=SessionState.QUEUED))
    if waiting:
        _audit_queued(*waiting)


def queue_drain(*, max_rounds: int = 20) -> int:
    """Route queued sessions, oldest first, while any eligible agent has room. Returns how many.

    One router at a time, and nobody waits for it. Whoever finds the routing lock taken leaves
    at once: it has bumped the routing generation first, and the holder looks again after each
    pass if the generation moved, so what was queued or freed meanwhile is routed by the
    holder. (Waiting for the lock instead made a convoy under load: every create, end and
    expiry queued behind one holder, each holding a connection and a thread.)
    """
    return _queue_drain(max_rounds=max_rounds).routed


@dataclass
class _Drained:
    routed: int = 0
    held_lock: bool = False  # this call held the routing lock for at least one pass
    watched: ChatSession | None = None  # the watched session, if this call routed it


def _queue_drain(*, max_rounds: int = 20, queued: bool = False, watch=None) -> _Drained:
    """queue_drain, saying also whether this call routed, and the `watch`ed session if it did.

    `queued`: the caller has just queued a session, so there is no need to look first.
    """
    found = _Drained()
    # Every insert into the queue is followed by a drain, so a miss here is never lost.
    if not queued and not selectors.queued_sessions().exists():
        return found
    routing_wanted()
    for _ in range(max_rounds):
        outcome = _drain_once()
        if outcome is None:
            return found  # someone else routes, and will look again
        found.held_lock = True
        routed, generation, retry = outcome
        found.routed += len(routed)
        if watch is not None and found.watched is None:
            found.watched = next((s for s in routed if s.pk == watch), None)
        if not retry and routing_generation() == generation:
            return found
    # Still more to do: a worker carries on, so the request that got here can answer.
    from .tasks import queue_drain_task

    queue_drain_task.delay()
    return found


def _drain_once() -> tuple[list[ChatSession], int, bool] | None:
    """One routing pass under the routing lock: (routed, generation seen, retry at once)."""
    with transaction.atomic():
        cfg = try_lock_routing()
        if cfg is None:
            return None
        generation = routing_generation()
        candidates = _Candidates.load_locked(cfg)
        slots = candidates.free_slots()
        if slots == 0:
            return [], generation, False
        # After the routing lock, sessions are taken only with SKIP LOCKED: no waiting, no
        # deadlock. A session someone else holds is retried in the next round.
        batch = list(
            ChatSession.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=SessionState.QUEUED)
            .order_by("created_at", "pk")[: min(slots, DRAIN_BATCH)]
        )
        routed = _route_locked(batch, candidates, timezone.now())
        # Room left and sessions still queued (past a full batch, or held by someone when we
        # looked, as a customer writing): go again. Any queued session fits any free room.
        room = candidates.free_slots() > 0
        waiting = bool(routed or room) and selectors.queued_sessions().exists()
        if routed and waiting:  # the line moved up: tell those still in it
            _after_commit(_push_queue_positions)
        return routed, generation, room and waiting


# --- offers ------------------------------------------------------------------------------------


def offer_accept(*, session_id: UUID | str, agent: Agent) -> ChatSession:
    """The offered agent takes the session before the offer expires.

    An agent who was never offered the session gets NotFound (it is someone else's); one whose
    offer expired or was withdrawn gets a Conflict naming why.
    """
    with transaction.atomic():
        session = lock_session(session_id)
        offer = lock_standing_offer(session) if session.state == SessionState.OFFERED else None
        now = timezone.now()
        if offer is not None and offer.agent_id == agent.pk and now < offer.expires_at:
            offer.outcome = OfferOutcome.ACCEPTED
            offer.resolved_at = now
            offer.save(update_fields=["outcome", "resolved_at"])
            session.state = SessionState.ACTIVE
            session.agent = agent
            session.accepted_at = now
            session.last_activity_at = now
            session.save(update_fields=["state", "agent", "accepted_at", "last_activity_at"])
            _event(session, "offer.accepted", agent=agent, offer_id=offer.pk)
            data = selectors.session_dict(session)
            _publish_after_commit(
                (push.agent_group(agent.pk), "session.assigned", {"session": data}),
                (push.customer_group(session.pk), "session.updated", {"session": data}),
            )
            return session
        _refuse_accept(session, offer, agent)


def _refuse_accept(session: ChatSession, offer: Offer | None, agent: Agent) -> NoReturn:
    """Raise the error that tells this agent why the session is not theirs to accept."""
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
    raise Conflict("This offer is no longer yours to accept.", code="offer_gone")


class ExpireResult(Enum):
    EXPIRED = "expired"
    NOT_DUE = "not_due"
    GONE = "gone"


def offer_expire(*, offer_id: int, session_id: UUID | str | None = None) -> ExpireResult:
    """Withdraw an offer whose deadline passed and route the session to another agent.

    `session_id` (the task carries it) saves a lookup; the offer is re-checked under the lock.
    Other overdue offers whose sessions nobody holds are expired in the same transaction, so a
    burst of deadlines costs one routing pass, not one each (their own tasks then find them
    gone).
    """
    # A lock-free look first: a resolved offer never stands again, so most duplicate and
    # piggybacked tasks end here in one query, without a transaction.
    row = Offer.objects.filter(pk=offer_id, outcome="").values_list("session_id", "expires_at")
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
        pairs = [(session, offer), *_lock_overdue_offers(now, exclude={session.pk})]
        _offers_resolve_locked(pairs, OfferOutcome.EXPIRED, now)
        _requeue_locked([session for session, _ in pairs])
    return ExpireResult.EXPIRED


def offers_expire(*, offer_ids: list[int]) -> ExpireResult:
    """Expire offers that share a deadline (one routing pass made them), as `offer_expire` does.

    Each is re-checked under its session's lock; those accepted, withdrawn or expired meanwhile
    are left alone. Other overdue offers nobody holds are taken along, as in `offer_expire`.
    """
    rows = Offer.objects.filter(pk__in=offer_ids, outcome="").values_list(
        "session_id", "expires_at"
    )
    rows = list(rows)  # lock-free look first, as in offer_expire
    if not rows:
        return ExpireResult.GONE
    if all(timezone.now() < expires_at for _, expires_at in rows):
        return ExpireResult.NOT_DUE
    with transaction.atomic():
        # Sessions by pk, the lock order; waiting here is safe (nobody holds one and waits for
        # another out of order).
        sessions = ChatSession.objects.select_for_update().filter(pk__in={sid for sid, _ in rows})
        by_id = {session.pk: session for session in sessions.order_by("pk")}
        now = timezone.now()
        offers = Offer.objects.select_for_update().filter(
            pk__in=offer_ids, session_id__in=by_id, outcome="", expires_at__lte=now
        )
        pairs = [(by_id[offer.session_id], offer) for offer in offers]
        if not pairs:
            return ExpireResult.GONE
        pairs += _lock_overdue_offers(now, exclude=set(by_id))
        _offers_resolve_locked(pairs, OfferOutcome.EXPIRED, now)
        _requeue_locked([session for session, _ in pairs])
    return ExpireResult.EXPIRED


def _lock_overdue_offers(
    now: datetime, *, exclude: set, limit: int = DRAIN_BATCH
) -> list[tuple[ChatSession, Offer]]:
    """Sessions with an overdue standing offer, locked with SKIP LOCKED (never waiting)."""
    overdue = Offer.objects.filter(outcome="", expires_at__lte=now).values("session_id")
    sessions = list(
        ChatSession.objects.select_for_update(skip_locked=True)
        .filter(state=SessionState.OFFERED, pk__in=overdue)
        .exclude(pk__in=exclude)
        .order_by("pk")[:limit]
    )
    if not sessions:
        return []
    by_id = {session.pk: session for session in sessions}
    offers = Offer.objects.select_for_update().filter(
        session_id__in=by_id, outcome="", expires_at__lte=now
    )
    return [(by_id[offer.session_id], offer) for offer in offers]


def _offers_resolve_locked(
    pairs: list[tuple[ChatSession, Offer]], outcome: str, now: datetime
) -> None:
    """Mark locked standing offers expired or withdrawn, audit it and tell their agents."""
    Offer.objects.filter(pk__in=[offer.pk for _, offer in pairs]).update(
        outcome=outcome, resolved_at=now
    )
    events = []
    for session, offer in pairs:
        offer.outcome, offer.resolved_at = outcome, now
        data = {"offer_id": offer.pk}
        if outcome == OfferOutcome.EXPIRED:
            data["late_ms"] = round((now - offer.expires_at).total_seconds() * 1000, 1)
        kind = "offer.expired" if outcome == OfferOutcome.EXPIRED else "offer.withdrawn"
        events.append(SessionEvent(session=session, kind=kind, agent_id=offer.agent_id, data=data))
    _events_save(events)
    _after_commit(_announce_offers_gone, [offer for _, offer in pairs], outcome)


def _announce_offers_gone(offers: list[Offer], outcome: str) -> None:
    reason = "expired" if outcome == OfferOutcome.EXPIRED else "withdrawn"
    with push.batch():
        for offer in offers:
            push.to_agent(
                offer.agent_id,
                "session.offer_expired",
                session_id=str(offer.session_id),
                offer_id=str(offer.pk),
                reason=reason,
            )


def offers_withdraw_for_agent(*, agent_id: int) -> int:
    """Withdraw every standing offer of an agent who left, re-routing the sessions together."""
    session_ids = sorted(
        set(
            Offer.objects.filter(agent_id=agent_id, outcome="").values_list("session_id", flat=True)
        )
    )
    if not session_ids:
        return 0
    with transaction.atomic():
        # Sessions by pk (the lock order); an offer may have moved on before we got the lock.
        sessions = list(
            ChatSession.objects.select_for_update().filter(pk__in=session_ids).order_by("pk")
        )
        by_id = {session.pk: session for session in sessions}
        offers = Offer.objects.select_for_update().filter(
            session_id__in=by_id, agent_id=agent_id, outcome=""
        )
        pairs = [(by_id[offer.session_id], offer) for offer in offers]
        if pairs:
            _offers_resolve_locked(pairs, OfferOutcome.WITHDRAWN, timezone.now())
            _requeue_locked([session for session, _ in pairs])
    return len(pairs)


# --- messages and the idle timer ---------------------------------------------------------------


def message_send(
    *, session_id: UUID | str, sender: str, body: object, agent: Agent | None = None
) -> Message:
    """A customer (any state but ended) or the serving agent (active only) writes."""
    text = clean_body(body)
    with transaction.atomic():
        session = lock_session(session_id, idle_timeout=sender == Sender.AGENT)
        if sender == Sender.AGENT:
            # Someone else's session is NotFound before anything reveals its state.
            _check_agent_sees(session, agent)
        if session.state == SessionState.ENDED:
            raise Conflict("This chat session has ended.", code="session_ended")
        now = timezone.now()
        fields = ["last_activity_at"]
        if sender == Sender.AGENT:
            if session.state != SessionState.ACTIVE:
                raise Conflict("Agents write only in active sessions.", code="not_active")
            timeout = session.current_idle_timeout
            if timeout is None:  # no settings row yet: made with its defaults
                timeout = selectors.service_settings().customer_idle_timeout_seconds
            session.idle_timeout_seconds = timeout
            session.idle_deadline = now + timedelta(seconds=timeout)
            fields += ["idle_deadline", "idle_timeout_seconds"]
            _after_commit(timers.schedule, session.idle_deadline)
        elif sender == Sender.CUSTOMER:
            if session.idle_deadline is not None:
                session.idle_deadline = None
                fields.append("idle_deadline")
        else:
            raise Invalid("Unknown sender.", field="sender")
        session.last_activity_at = now
        session.save(update_fields=fields)
        message = Message.objects.create(session=session, sender=sender, body=text)
        _push_message(session, message)
    return message


def _check_agent_sees(session: ChatSession, agent: Agent | None) -> None:
    """An agent acts only on sessions it serves (or served); one it is offered must be accepted."""
    if agent is not None and session.agent_id == agent.pk:
        return
    if (
        agent is not None
        and session.state == SessionState.OFFERED
        and Offer.objects.filter(session=session, agent=agent, outcome="").exists()
    ):
        raise Conflict("Accept the chat first.", code="not_active")
    raise NotFound("No such chat session.")


def _push_message(session: ChatSession, message: Message) -> None:
    data = selectors.message_dict(message)
    events = []
    if session.state == SessionState.ACTIVE and session.agent_id:
        events.append((push.agent_group(session.agent_id), "message.created", {"message": data}))
    if message.sender != Sender.CUSTOMER:
        events.append((push.customer_group(session.pk), "message.created", {"message": data}))
    _publish_after_commit(*events)


def session_idle_end(
    *, session_id: UUID | str, deadline: datetime | None = None, wait: bool = True
) -> bool:
    """End an active session whose customer stayed silent past the idle deadline.

    `deadline` is the one the firing task was scheduled for; a newer agent message moved it,
    and a customer reply cleared it: then this call does nothing. `wait=False`: if someone
    holds the session, leave it to them (they end it, move or clear the deadline) and do
    nothing.
    """
    if deadline is not None:
        # Lock-free look first: a moved or cleared deadline never comes back.
        due = ChatSession.objects.filter(state=SessionState.ACTIVE, idle_deadline=deadline)
        try:
            if not due.filter(pk=session_id).exists():
                return False
        except (ValidationError, ValueError):
            return False  # not a session id at all
    with transaction.atomic():
        try:
            session = lock_session(session_id, wait=wait)
        except NotFound:
            return False
        if session is None:
            return False  # held by someone else, as `wait` allowed
        now = timezone.now()
        if session.state != SessionState.ACTIVE or session.idle_deadline is None:
            return False
        if deadline is not None and session.idle_deadline != deadline:
            return False
        if now < session.idle_deadline:
            return False
        notice = selectors.service_settings().idle_end_notice
        message = Message.objects.create(session=session, sender=Sender.SYSTEM, body=notice)
        _push_message(session, message)
        _event(
            session,
            "session.idle_timeout",
            late_ms=round((now - session.idle_deadline).total_seconds() * 1000, 1),
        )
        _end_locked(session, EndReason.CUSTOMER_IDLE_TIMEOUT, now=now, notice=notice)
    return True


# --- end ---------------------------------------------------------------------------------------


def session_end(*, session_id: UUID | str, reason: str, agent: Agent | None = None) -> ChatSession:
    """End a session: by its agent, its customer or staff."""
    if reason not in EndReason.values or reason == EndReason.CUSTOMER_IDLE_TIMEOUT:
        raise Invalid("Unknown end reason.", field="reason")
    with transaction.atomic():
        session = lock_session(session_id)
        if reason == EndReason.AGENT_ENDED:
            _check_agent_sees(session, agent)
        if session.state == SessionState.ENDED:
            raise Conflict("This chat session has already ended.", code="session_ended")
        _end_locked(session, reason, now=timezone.now(), by_agent=agent)
    return session


def _end_locked(
    session: ChatSession,
    reason: str,
    *,
    now: datetime,
    notice: str | None = None,
    by_agent: Agent | None = None,
) -> None:
    previous = session.state
    offer = lock_standing_offer(session) if previous == SessionState.OFFERED else None
    if offer is not None:
        offer.outcome = OfferOutcome.WITHDRAWN
        offer.resolved_at = now
        offer.save(update_fields=["outcome", "resolved_at"])
    session.state = SessionState.ENDED
    session.ended_at = now
    session.end_reason = reason
    session.idle_deadline = None
    session.last_activity_at = now
    session.save(
        update_fields=["state", "ended_at", "end_reason", "idle_deadline", "last_activity_at"]
    )
    _event(session, "session.ended", agent=by_agent, reason=reason, previous_state=previous)
    ended = {"session_id": str(session.pk), "reason": reason}
    events = []
    if offer is not None:
        gone = {"session_id": str(session.pk), "offer_id": str(offer.pk), "reason": "session_ended"}
        events.append((push.agent_group(offer.agent_id), "session.offer_expired", gone))
    elif session.agent_id is not None:
        events.append((push.agent_group(session.agent_id), "session.ended", ended))
    customer = dict(ended, session=selectors.session_dict(session))
    if reason == EndReason.CUSTOMER_IDLE_TIMEOUT:
        customer["notice"] = notice
    events.append((push.customer_group(session.pk), "session.ended", customer))
    _publish_after_commit(*events)
    if previous in (SessionState.OFFERED, SessionState.ACTIVE):
        _drain_after_commit()
    elif previous == SessionState.QUEUED:
        _after_commit(_push_queue_positions)


# --- the sweep: the safety net behind every timer task -----------------------------------------


def timers_resolve_due(*, now: datetime | None = None) -> dict:
    """Resolve every offer and idle timer due by `now`: what a tick's task does. Safe anywhere.

    First, without waiting, whatever nobody else holds: two tasks of adjacent ticks, or a task
    and the sweep, then split the work instead of queueing on each other's locks, and an idle
    end is not kept waiting behind an expiry's routing. Then, waiting, whatever was held and is
    still due. Each is re-checked under its session's lock.
    """
    now = now or timezone.now()
    idle_ids = selectors.overdue_idle_session_ids(now)
    idle = sum(session_idle_end(session_id=pk, wait=False) for pk in idle_ids)
    offers = selectors.overdue_offers(now)
    expired = offers_expire_due(now=now) if offers else 0
    # Most ticks find nothing due (their deadlines moved): two statements, and done.
    if idle < len(idle_ids):
        idle += sum(
            session_idle_end(session_id=pk) for pk in selectors.overdue_idle_session_ids(now)
        )
    if expired < len(offers):
        expired += sum(
            offer_expire(offer_id=pk, session_id=session_id) is ExpireResult.EXPIRED
            for pk, session_id in selectors.overdue_offers(now)
        )
    return {"offers_expired": expired, "idle_ended": idle}


def offers_expire_due(*, now: datetime | None = None) -> int:
    """Expire the standing offers due by `now` whose sessions nobody holds, in one transaction
    and one routing pass. Returns how many."""
    with transaction.atomic():
        pairs = _lock_overdue_offers(now or timezone.now(), exclude=set())
        if not pairs:
            return 0
        _offers_resolve_locked(pairs, OfferOutcome.EXPIRED, timezone.now())
        _requeue_locked([session for session, _ in pairs])
    return len(pairs)


def timers_sweep(*, now: datetime | None = None) -> dict:
    """Resolve every overdue offer and idle timer and drain the queue. Safe to run anywhere."""
    found = timers_resolve_due(now=now)
    found["routed"] = queue_drain() if selectors.queued_sessions().exists() else 0
    return found
