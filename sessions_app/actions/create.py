"""A customer opens a chat: the session in its skill group, its first message, and routing in
creation order, in the same transaction when the group's routing lock is free."""

import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from agents_app.selectors import service_settings
from core.errors import Conflict, Invalid
from core.hours import Hours
from core.text import clean_attributes, clean_body, clean_email, clean_name
from skills_app.models import SkillGroup
from skills_app.selectors import default_group

from .. import events, selectors
from ..access import hash_token
from ..events import Event
from ..locks import lock_session
from ..models import ChatSession, EventKind, Message, Sender, SessionState
from ..prompts import language_or_default, post_locked, prompt_text, system_message
from ..routing import drain
from ..routing.lock import LockedGroup, open_group
from ..routing.pool import RoutingConflict

MAX_ID = 2**31 - 1


def _group_id(skill_group) -> int | None:
    """The named group's id (None: the default group); a clear error if it names none."""
    if skill_group in (None, ""):
        return None
    try:
        group_id = int(skill_group)
    except (TypeError, ValueError, OverflowError):
        group_id = 0
    if not 0 < group_id <= MAX_ID:
        raise Invalid("No such skill group.", code="unknown_skill_group", field="skill_group")
    return group_id


def _open_group(group_id: int | None) -> LockedGroup:
    """The session's group, its routing lock tried in the same statement."""
    found = open_group(group_id)
    if found is None and group_id is None:
        default_group()  # none yet: made now (it commits on its own), then opened
        found = open_group(None)
    if found is None:
        raise Invalid("No such skill group.", code="unknown_skill_group", field="skill_group")
    return found


def hours_check(now, language: str | None) -> None:
    """Raise the 409 that says the desk is closed, with the offline notice as its detail."""
    cfg = service_settings()
    if Hours.of(cfg).is_open(now):
        return
    notice = prompt_text(cfg, "offline_notice", language) or "We're closed right now."
    raise Conflict(notice, code="outside_working_hours")


def session_create(
    *,
    customer_name: str,
    message: str | None = None,
    skill_group=None,
    email: object = None,
    attributes: object = None,
    language: str | None = None,
) -> tuple[ChatSession, str]:
    """Open a chat for an anonymous customer in a skill group (the default one if none is
    named) and route it. Returns the session and the customer's secret. `language`: the
    customer's, for the prompts (the desk's default if it is none of the desk's).

    Outside working hours nothing opens: 409 `outside_working_hours`, with the offline notice.

    The hot path of the desk: a fixed handful of plain statements (core/sql.py) whatever the
    size of the desk, routing included when the group's lock is free.
    """
    name = clean_name(customer_name)
    body = clean_body(message) if message not in (None, "") else None
    about = {
        "email": clean_email(email),
        "attributes": clean_attributes(attributes),
        "language": language_or_default(language),
    }
    group_id = _group_id(skill_group)
    token = secrets.token_urlsafe(32)
    # First with the pool read unlocked and only the chosen agent locked (the usual case: one
    # row lock, not the whole pool's); if that agent was taken meanwhile, again, all locked.
    try:
        return _create(name, body, group_id, token, about, optimistic=True)
    except RoutingConflict:
        return _create(name, body, group_id, token, about, optimistic=False)


def _create(
    name: str, body: str | None, group_id: int | None, token: str, about: dict, *, optimistic: bool
) -> tuple[ChatSession, str]:
    try:
        with transaction.atomic():
            group = _open_group(group_id)
            now = timezone.now()
            if group.cfg.working_hours_enabled:
                hours_check(now, about["language"])
            session = ChatSession(
                customer_name=name,
                customer_token_hash=hash_token(token),
                skill_group=SkillGroup(pk=group.pk, name=group.name),
                created_at=now,
                last_activity_at=now,
                **about,
            )
            if group.overflow_group_id is not None and group.overflow_after_seconds is not None:
                # The overflow moment is copied onto the row, as every timer is.
                session.overflow_at = now + timedelta(seconds=group.overflow_after_seconds)
            if group.cfg.queue_timeout_seconds:
                session.queue_deadline = now + timedelta(seconds=group.cfg.queue_timeout_seconds)
            first = Message(session=session, sender=Sender.CUSTOMER, body=body, created_at=now)
            welcome = prompt_text(group.cfg, "welcome_notice", session.language, customer=name)
            newcomer = drain.Newcomer(
                session,
                first if body else None,
                [Event(EventKind.SESSION_CREATED, session)],
                welcome=system_message(session, welcome) if welcome else None,
            )
            # Routing takes the group's queue in creation order, so a newcomer never jumps
            # the line; when the group's lock is free, in this same transaction, deciding
            # the new row's state before it is written.
            if group.locked:
                done = drain.pass_locked(group, newcomer=newcomer, optimistic=optimistic)
                attempt = (group.generation, done)
            else:
                attempt = None
                drain.write_newcomer(newcomer)
                events.record(*newcomer.recorded)
    except IntegrityError:  # the group was deleted meanwhile
        raise Invalid(
            "No such skill group.", code="unknown_skill_group", field="skill_group"
        ) from None
    drained = drain.drain_after(group.pk, attempt)
    routed = attempt[1].routed if attempt else []
    mine = next((s for s in routed if s.pk == session.pk), None)
    if mine is not None and mine.state == SessionState.OFFERED:
        session = mine  # offered here: as it was written, its offer attached
    else:
        session = selectors.session_get(session.pk)
    looked = attempt is not None and session.pk in attempt[1].looked_at
    if session.state == SessionState.QUEUED and drained.held_lock and not looked:
        # We routed and found no room: say why. (If someone else was routing, it goes on and
        # routes this one too; no verdict to record yet.)
        drain.audit_queued(session)
    if session.state == SessionState.QUEUED and group.cfg.queue_notice.strip():
        _queue_notice(session, group.cfg)
    return session, token


def _queue_notice(session: ChatSession, cfg) -> None:
    """The queue notice, with the customer's place in line, once: when the new chat has to
    wait (a chat offered meanwhile, or already told, gets none)."""
    with transaction.atomic():
        locked = lock_session(session.pk)
        if locked.state != SessionState.QUEUED:
            return
        position = selectors.queue_position(locked) or 1
        events.record(*post_locked(locked, cfg, "queue_notice", position=position))
