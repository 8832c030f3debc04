"""A customer opens a chat: the session in its skill group, its first message, and routing in
creation order, in the same transaction when the group's routing lock is free."""

import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Invalid
from core.text import clean_body, clean_name
from skills_app.models import SkillGroup
from skills_app.selectors import default_group

from .. import events, selectors
from ..access import hash_token
from ..events import Event
from ..models import ChatSession, EventKind, Message, Sender, SessionState
from ..routing import drain


def _group(skill_group) -> SkillGroup:
    if skill_group in (None, ""):
        return default_group()
    try:
        found = SkillGroup.objects.filter(pk=int(skill_group)).first()
    except (TypeError, ValueError, OverflowError):
        found = None
    if found is None:
        raise Invalid("No such skill group.", code="unknown_skill_group", field="skill_group")
    return found


def session_create(
    *, customer_name: str, message: str | None = None, skill_group=None
) -> tuple[ChatSession, str]:
    """Open a chat for an anonymous customer in a skill group (the default one if none is
    named) and route it. Returns the session and the customer's secret."""
    name = clean_name(customer_name)
    body = clean_body(message) if message not in (None, "") else None
    group = _group(skill_group)
    token = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            session = ChatSession(
                customer_name=name, customer_token_hash=hash_token(token), skill_group=group
            )
            if group.overflow_group_id is not None and group.overflow_after_seconds is not None:
                # The overflow moment is copied onto the row, as every timer is.
                wait = timedelta(seconds=group.overflow_after_seconds)
                session.overflow_at = timezone.now() + wait
            session.save(force_insert=True)
            if body:
                Message.objects.create(session=session, sender=Sender.CUSTOMER, body=body)
            events.record(Event(EventKind.SESSION_CREATED, session))
            # Routing takes the group's queue in creation order, so a newcomer never jumps
            # the line; when the group's lock is free, in this same transaction.
            attempt = drain.route_now(group.pk)
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
    if session.state == SessionState.QUEUED and drained.held_lock:
        # We routed and found no room: say why. (If someone else was routing, it goes on and
        # routes this one too; no verdict to record yet.)
        drain.audit_queued(session)
    return session, token
