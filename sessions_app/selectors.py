"""Reads of chat sessions shared by actions, the API, consumers and admin; their JSON shapes."""

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count, Min, Q, QuerySet
from django.utils.timezone import now as time_now

from agents_app.models import Agent
from agents_app.selectors import service_settings
from skills_app.models import SkillGroup, SkillGroupMember

from .models import (
    MISSED_OUTCOMES,
    Attachment,
    ChatSession,
    Message,
    Offer,
    Rating,
    Sender,
    SessionState,
)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def queued_in_group(group_id: int | None) -> QuerySet:
    """A group's queue, oldest first."""
    return ChatSession.objects.filter(skill_group_id=group_id, state=SessionState.QUEUED).order_by(
        "created_at", "pk"
    )


def groups_with_queue() -> list[int]:
    """The groups that have a session waiting."""
    queued = ChatSession.objects.filter(state=SessionState.QUEUED, skill_group__isnull=False)
    return sorted(set(queued.values_list("skill_group_id", flat=True)))


def queue_position(session: ChatSession) -> int | None:
    """1-based: the sessions ahead of it in its own group's queue, plus one."""
    if session.state != SessionState.QUEUED:
        return None
    ahead = queued_in_group(session.skill_group_id).filter(
        Q(created_at__lt=session.created_at) | Q(created_at=session.created_at, pk__lt=session.pk)
    )
    return ahead.count() + 1


def standing_offer(session: ChatSession) -> Offer | None:
    if session.state != SessionState.OFFERED:
        return None
    made = getattr(session, "offer_made", None)  # set by routing on the instance it offered
    if made is not None:
        return made
    return Offer.objects.standing().filter(session=session).first()


def standing_offers_of(session_ids: list) -> dict:
    """session id -> its standing offer, for the sessions that have one (one query)."""
    if not session_ids:
        return {}
    offers = Offer.objects.standing().filter(session_id__in=session_ids)
    return {offer.session_id: offer for offer in offers}


def agent_ref(agent_id: int | None) -> dict | None:
    """{"id", "display_name"} of an agent, as pushes show it (the name may be 5 s old)."""
    if agent_id is None:
        return None
    return {"id": str(agent_id), "display_name": _recent_name("agent", agent_id)}


def countdown_dict(offer: Offer) -> dict:
    """An offer as its agent's prompt bar needs it: `session.offered`'s `offer`."""
    data = {
        "id": str(offer.pk),
        "expires_at": iso(offer.expires_at),
        "countdown_seconds": offer.timeout_seconds,
        "kind": offer.kind,
    }
    if offer.is_transfer:
        data["from_agent"] = agent_ref(offer.from_agent_id)
        data["note"] = offer.note
    return data


def transfer_dict(offer: Offer) -> dict:
    """A transfer as the agent who asked for it sees it while it stands."""
    return {
        "offer_id": str(offer.pk),
        "session_id": str(offer.session_id),
        "to_agent": agent_ref(offer.agent_id),
        "note": offer.note,
        "expires_at": iso(offer.expires_at),
        "countdown_seconds": offer.timeout_seconds,
    }


def offer_dict(offer: Offer) -> dict:
    return {
        "id": str(offer.pk),
        "agent_id": str(offer.agent_id),
        "expires_at": iso(offer.expires_at),
    }


def session_dict(
    session: ChatSession, *, offer: Offer | None = None, position: int | None = None
) -> dict:
    """The public Session representation of the contract. Pass what the caller already holds."""
    data = {
        "id": str(session.pk),
        "state": session.state,
        "customer_name": session.customer_name,
        "email": session.email or None,
        "attributes": session.attributes or {},
        "agent": None,
        "created_at": iso(session.created_at),
        "accepted_at": iso(session.accepted_at),
        "ended_at": iso(session.ended_at),
        "end_reason": session.end_reason or None,
        "last_activity_at": iso(session.last_activity_at),
    }
    if session.agent_id is not None:
        data["agent"] = {"id": str(session.agent_id), "display_name": agent_name(session)}
    data["skill_group"] = group_ref(session)
    if session.state == SessionState.QUEUED:
        data["queue_position"] = position if position is not None else queue_position(session)
    if session.state == SessionState.OFFERED:
        offer = offer or standing_offer(session)
        if offer is not None:
            data["offer"] = offer_dict(offer)
    # Only an ended chat can have a rating: no query for the others (pushes are hot).
    ended = session.state == SessionState.ENDED
    data["rating"] = rating_dict(_rating_of(session)) if ended else None
    return data


def session_record(session: ChatSession) -> dict | None:
    """What a finished chat was, for integrations and reports (None until it ended): how long
    it waited (`queued_seconds`: created → first offer or assignment; `wait_seconds`: created
    → served), how long it was served, offers and the missed ones, accepted transfers, messages
    by sender, the end reason, the last agent, the group and the rating."""
    if session.state != SessionState.ENDED or session.ended_at is None:
        return None
    offers = list(Offer.objects.filter(session=session).values("kind", "outcome", "created_at"))
    routing = [o for o in offers if o["kind"] == "routing"]
    first_offer = min((o["created_at"] for o in routing), default=None)
    served = session.accepted_at
    queued_until = min(d for d in (first_offer, served, session.ended_at) if d is not None)
    counts = dict(
        Message.objects.filter(session=session)
        .values_list("sender")
        .annotate(n=Count("pk"))
        .values_list("sender", "n")
    )

    def seconds(start, end) -> float | None:
        if start is None or end is None:
            return None
        return round((end - start).total_seconds(), 3)

    return {
        "queued_seconds": seconds(session.created_at, queued_until),
        "wait_seconds": seconds(session.created_at, served),
        "handle_seconds": seconds(served, session.ended_at),
        "offers": len(routing),
        "missed_offers": sum(1 for o in routing if o["outcome"] in MISSED_OUTCOMES),
        "transfers": sum(
            1 for o in offers if o["kind"] == "transfer" and o["outcome"] == "accepted"
        ),
        "messages": {sender: counts.get(sender, 0) for sender in Sender.values},
        "end_reason": session.end_reason,
        "agent": (
            {"id": str(session.agent_id), "display_name": agent_name(session)}
            if session.agent_id
            else None
        ),
        "skill_group": group_ref(session),
        "rating": rating_dict(_rating_of(session)),
    }


def _rating_of(session: ChatSession) -> Rating | None:
    if ChatSession.rating.is_cached(session):
        return getattr(session, "rating", None)
    return Rating.objects.filter(session=session).first()


def rating_open(session: ChatSession, cfg) -> bool:
    """Whether the customer may rate this chat now (rated already or not): ratings on, an
    agent served it, it ended less than the window ago."""
    if not cfg.rating_enabled or session.state != SessionState.ENDED:
        return False
    if session.accepted_at is None or session.agent_id is None or session.ended_at is None:
        return False  # no agent ever served it: nothing to rate
    return time_now() < session.ended_at + timedelta(seconds=cfg.rating_window_seconds)


def rating_offer(session: ChatSession) -> dict:
    """For an ended chat's customer: whether it may be rated now, and on what scale."""
    cfg = service_settings()
    requested = rating_open(session, cfg) and _rating_of(session) is None
    return {"rating_requested": requested, "rating_scale": cfg.rating_scale}


def rating_dict(rating: Rating | None) -> dict | None:
    if rating is None:
        return None
    return {
        "score": rating.score,
        "scale": rating.scale,
        "comment": rating.comment,
        "created_at": iso(rating.created_at),
    }


def group_ref(session: ChatSession) -> dict | None:
    """{"id", "name"} of the session's group (null once the group was deleted)."""
    if session.skill_group_id is None:
        return None
    if ChatSession.skill_group.is_cached(session):
        name = session.skill_group.name
    else:
        name = _recent_name("group", session.skill_group_id)
    return {"id": str(session.skill_group_id), "name": name}


def agent_name(session: ChatSession) -> str:
    """The serving agent's display name (the session must have an agent)."""
    if ChatSession.agent.is_cached(session):
        return session.agent.name
    return _recent_name("agent", session.agent_id)


# Names of groups and agents as pushes show them, read at most once per NAME_TTL_SECONDS per
# process: every push of a session carried one or two queries for them (a chat's accept, each
# of its messages and its end), for names that change a few times a year. A rename shows in
# pushes within NAME_TTL_SECONDS; REST reads and snapshots read the name afresh.
NAME_TTL_SECONDS = float(os.environ.get("PUSH_NAME_TTL_SECONDS", "5"))
_NAMES_KEPT = 10_000
_names: dict[tuple[str, int], tuple[float, str]] = {}


def _recent_name(kind: str, pk: int) -> str:
    now = time.monotonic()
    found = _names.get((kind, pk))
    if found is not None and now - found[0] < NAME_TTL_SECONDS:
        return found[1]
    if kind == "group":
        name = SkillGroup.objects.filter(pk=pk).values_list("name", flat=True).first() or ""
    else:
        agent = Agent.objects.select_related("user").filter(pk=pk).first()
        name = agent.name if agent is not None else ""
    if len(_names) >= _NAMES_KEPT:
        _names.clear()
    _names[(kind, pk)] = (now, name)
    return name


def message_dict(message: Message) -> dict:
    return {
        "id": str(message.pk),
        "session_id": str(message.session_id),
        "sender": message.sender,
        "body": message.body,
        "created_at": iso(message.created_at),
        "read_at": iso(message.read_at),
        "author": agent_ref(message.author_id),
        "attachment": attachment_dict(_attachment_of(message)),
    }


def _attachment_of(message: Message) -> Attachment | None:
    """The message's file: from what the caller loaded (select_related, or the action that
    wrote it), else one query; system notices never carry one."""
    if Message.attachment.is_cached(message):
        return getattr(message, "attachment", None)
    if message.sender == Sender.SYSTEM or message.pk is None:
        return None
    return Attachment.objects.filter(message=message).first()


def attachment_url(attachment: Attachment) -> str:
    """Where its agent, its customer (adding `?token=`) and staff download it."""
    return f"/api/attachments/{attachment.pk}/"


def attachment_dict(attachment: Attachment | None) -> dict | None:
    if attachment is None:
        return None
    return {
        "id": str(attachment.pk),
        "name": attachment.name,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "url": attachment_url(attachment),
    }


def attachment_get(attachment_id: object) -> Attachment | None:
    try:
        return Attachment.objects.get(pk=attachment_id)
    except (Attachment.DoesNotExist, ValueError, TypeError, ValidationError):
        return None


def session_get(session_id: UUID | str) -> ChatSession | None:
    try:
        return ChatSession.objects.select_related("agent__user", "skill_group", "rating").get(
            pk=session_id
        )
    except (ChatSession.DoesNotExist, ValueError, TypeError, ValidationError):
        return None


def session_messages(session: ChatSession) -> QuerySet:
    return (
        Message.objects.filter(session=session)
        .select_related("attachment")
        .order_by("created_at", "pk")
    )


def first_customer_message(session: ChatSession) -> str | None:
    first = session_messages(session).filter(sender=Sender.CUSTOMER).first()
    return first.body if first else None


def last_system_message(session: ChatSession) -> str | None:
    last = session_messages(session).filter(sender=Sender.SYSTEM).last()
    return last.body if last else None


def sessions_for_agent(agent: Agent) -> list[ChatSession]:
    """Sessions now offered to or active with this agent: what a workspace shows."""
    offered_ids = Offer.objects.standing().filter(agent=agent).values("session_id")
    return list(
        ChatSession.objects.select_related("agent__user", "skill_group")
        .filter(Q(agent=agent, state=SessionState.ACTIVE) | Q(pk__in=offered_ids))
        .order_by("-last_activity_at")
    )


def sessions_visible_to(agent: Agent | None, *, staff: bool) -> QuerySet:
    """What a session list shows: staff every session; an agent those it serves, served or is
    offered now."""
    if staff:
        return ChatSession.objects.all()
    offered = Offer.objects.standing().filter(agent=agent).values("session_id")
    return ChatSession.objects.filter(Q(agent=agent) | Q(pk__in=offered))


def sessions_matching(sessions: QuerySet, text: str) -> QuerySet:
    """Those whose customer name or email contains `text`, or one of whose messages matches
    it: PostgreSQL full-text search (the `message_body_search` index; web-search syntax:
    words, "a phrase", -not), a plain substring search elsewhere."""
    text = text.strip()
    if not text:
        return sessions
    about = Q(customer_name__icontains=text) | Q(email__icontains=text)
    if connection.vendor == "postgresql":
        query = SearchQuery(text, config="simple", search_type="websearch")
        vector = SearchVector("body", config="simple")
        hits = Message.objects.annotate(found=vector).filter(found=query).values("session_id")
    else:
        hits = Message.objects.filter(body__icontains=text).values("session_id")
    return sessions.filter(about | Q(pk__in=hits))


def sessions_of_customer(email: str) -> QuerySet:
    """Every chat a customer had with this email address (any case), newest first."""
    return ChatSession.objects.filter(email__iexact=email.strip()).order_by("-created_at", "pk")


def serves_customer(agent: Agent, email: str) -> bool:
    """Whether the agent serves (or is offered) a chat of this email now: it may then read that
    customer's earlier chats, whoever served them."""
    if not email.strip():
        return False
    offered = Offer.objects.standing().filter(agent=agent).values("session_id")
    mine = Q(agent=agent, state=SessionState.ACTIVE) | Q(pk__in=offered)
    return ChatSession.objects.filter(mine, email__iexact=email.strip()).exists()


def transcript_text(session: ChatSession, messages: list[Message]) -> str:
    """The chat as plain text: a heading, then one line per message."""
    who = session.customer_name + (f" <{session.email}>" if session.email else "")
    head = [f"Chat with {who}", f"Started {_clock(session.created_at, True)} UTC"]
    if session.skill_group_id is not None:
        head.append(f"Group: {group_ref(session)['name']}")
    if session.agent_id is not None:
        head.append(f"Agent: {agent_name(session)}")
    if session.ended_at is not None:
        head.append(f"Ended {_clock(session.ended_at, True)} UTC ({session.end_reason})")
    names = {Sender.CUSTOMER: session.customer_name, Sender.SYSTEM: "System"}
    lines = []
    for message in messages:
        sender = names.get(message.sender, "Agent")
        body = message.body
        found = _attachment_of(message)
        if found is not None:
            body = f"[file: {found.name}, {found.size} bytes]"
        lines.append(f"[{_clock(message.created_at)}] {sender}: {body}")
    return "\n".join(head) + "\n\n" + "\n".join(lines) + "\n"


def _clock(value: datetime, day: bool = False) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M" if day else "%H:%M:%S")


def queue_stats(agent: Agent) -> list[dict]:
    """For each group the agent serves: how many wait there and since when (the oldest)."""
    memberships = SkillGroupMember.objects.filter(agent=agent).select_related("group")
    waiting = (
        ChatSession.objects.filter(
            state=SessionState.QUEUED, skill_group__in=[m.group_id for m in memberships]
        )
        .values("skill_group_id")
        .annotate(n=Count("pk"), oldest=Min("created_at"))
    )
    by_group = {row["skill_group_id"]: row for row in waiting}
    stats = []
    for member in sorted(memberships, key=lambda m: m.group.name):
        row = by_group.get(member.group_id, {})
        stats.append(
            {
                "group_id": str(member.group_id),
                "name": member.group.name,
                "waiting": row.get("n", 0),
                "oldest_created_at": iso(row.get("oldest")),
            }
        )
    return stats


def queued_sessions(limit: int | None = None) -> QuerySet:
    qs = ChatSession.objects.filter(state=SessionState.QUEUED).order_by("created_at", "pk")
    return qs[:limit] if limit else qs


def queue_with_positions(group_id: int, limit: int = 200) -> list[tuple[ChatSession, dict]]:
    """The first `limit` sessions of a group's queue, represented with their positions."""
    queue = queued_in_group(group_id).select_related("skill_group")[:limit]
    return [
        (session, session_dict(session, position=position))
        for position, session in enumerate(queue, start=1)
    ]


def first_customer_messages(session_ids: list) -> dict:
    """session id -> body of its first customer message (one plain query, any database).

    Routing asks this for the sessions it just offered: each has a message or a few, so
    taking the first per session here is cheaper than a correlated subquery to compile.
    """
    rows = (
        Message.objects.filter(session_id__in=session_ids, sender=Sender.CUSTOMER)
        .order_by("session_id", "created_at", "pk")
        .values_list("session_id", "body")
    )
    found: dict = {}
    for session_id, body in rows:
        found.setdefault(session_id, body)
    return found


def overdue_offers(now: datetime, limit: int = 500) -> list[tuple[int, UUID]]:
    """(offer id, session id) of standing offers past their deadline, oldest deadline first."""
    qs = Offer.objects.standing().filter(expires_at__lte=now).order_by("expires_at")
    return list(qs.values_list("pk", "session_id")[:limit])


def overdue_timer_count(now: datetime) -> int:
    """Standing offers, idle deadlines and warnings, and queue timeouts past `now`: the sweep's
    backlog."""
    offers = Offer.objects.standing().filter(expires_at__lte=now).count()
    sessions = ChatSession.objects.filter(
        _idle_due(now) | _warning_due(now) | _queue_timeout_due(now)
    )
    return offers + sessions.count()


def _idle_due(now: datetime) -> Q:
    return Q(state=SessionState.ACTIVE, idle_deadline__lte=now)


def _warning_due(now: datetime) -> Q:
    return Q(state=SessionState.ACTIVE, idle_warning_at__lte=now)


def _overflow_due(now: datetime) -> Q:
    waiting = [SessionState.QUEUED, SessionState.OFFERED]
    return Q(overflow_at__lte=now, overflowed_at__isnull=True, state__in=waiting)


def overdue_idle_session_ids(now: datetime, limit: int = 500) -> list[UUID]:
    qs = ChatSession.objects.filter(_idle_due(now))
    return list(qs.order_by("idle_deadline").values_list("pk", flat=True)[:limit])


def _queue_timeout_due(now: datetime) -> Q:
    waiting = [SessionState.QUEUED, SessionState.OFFERED]
    return Q(queue_deadline__lte=now, state__in=waiting)


@dataclass
class Due:
    """What a tick finds due, by kind: session ids, oldest deadline first (overflow: whether
    any)."""

    idle: list
    warn: list
    queue_timeout: list
    overflow: bool

    def __bool__(self) -> bool:
        return bool(self.idle or self.warn or self.queue_timeout or self.overflow)


def due_sessions(now: datetime, limit: int = 500) -> Due:
    """Sessions with a timer due by `now`, in one statement: active sessions past their idle
    deadline or their idle warning, waiting ones past their queue timeout, and whether any
    waiting session is past its overflow moment."""
    wanted = _idle_due(now) | _warning_due(now) | _overflow_due(now) | _queue_timeout_due(now)
    rows = (
        ChatSession.objects.filter(wanted)
        .order_by("idle_deadline")
        .values_list("pk", "state", "idle_deadline", "idle_warning_at", "queue_deadline")[:limit]
    )
    due = Due([], [], [], False)
    for pk, state, deadline, warning, queue_deadline in rows:
        if state == SessionState.ACTIVE:
            if warning is not None and warning <= now:
                due.warn.append(pk)
            if deadline is not None and deadline <= now:
                due.idle.append(pk)
        elif queue_deadline is not None and queue_deadline <= now:
            due.queue_timeout.append(pk)
        else:
            due.overflow = True
    # A session may be due for its queue timeout and its overflow at once: the timeout wins.
    return due


def overdue_warning_session_ids(now: datetime, limit: int = 500) -> list[UUID]:
    qs = ChatSession.objects.filter(_warning_due(now))
    return list(qs.order_by("idle_warning_at").values_list("pk", flat=True)[:limit])


def overdue_queue_session_ids(now: datetime, limit: int = 500) -> list[UUID]:
    qs = ChatSession.objects.filter(_queue_timeout_due(now))
    return list(qs.order_by("queue_deadline").values_list("pk", flat=True)[:limit])
