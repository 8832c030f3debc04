"""Messages, and the idle timer they start and stop: every agent message (re)starts it, every
customer message stops it, and when it runs out the session ends with the reminder."""

from datetime import datetime, timedelta
from uuid import UUID

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agents_app.models import Agent
from agents_app.selectors import service_settings
from core.errors import Conflict, Invalid, NotFound
from core.text import clean_body

from .. import attachments, events
from ..access import check_agent_acts
from ..events import Event, message_created
from ..locks import lock_session, lock_session_for_timer
from ..models import Attachment, ChatSession, EndReason, EventKind, Message, Sender, SessionState
from ..prompts import post_locked
from .end import end_locked


def message_send(
    *,
    session_id: UUID | str,
    sender: str,
    body: object = None,
    agent: Agent | None = None,
    upload: UploadedFile | None = None,
) -> Message:
    """A customer (any state but ended) or the serving agent (active only) writes; with
    `upload`, a file (its message's body is the file's name)."""
    if upload is not None:
        content_type, text = attachments.checked(upload)
    else:
        text = clean_body(body)
    stored: list = []  # files written before the commit: removed if it does not happen
    try:
        with transaction.atomic():
            session = lock_session(session_id, idle_timeout=sender == Sender.AGENT)
            if sender == Sender.AGENT:
                # Someone else's session is NotFound before anything reveals its state.
                check_agent_acts(session, agent)
            if session.state == SessionState.ENDED:
                raise Conflict("This chat session has ended.", code="session_ended")
            now = timezone.now()
            fields = ["last_activity_at"]
            if sender == Sender.AGENT:
                if session.state != SessionState.ACTIVE:
                    raise Conflict("Agents write only in active sessions.", code="not_active")
                timeout, warning = session.current_idle_timeout, session.current_idle_warning
                if timeout is None:  # no settings row yet: made with its defaults
                    cfg = service_settings()
                    timeout, warning = cfg.customer_idle_timeout_seconds, cfg.idle_warning_seconds
                session.idle_timeout_seconds = timeout
                session.idle_deadline = now + timedelta(seconds=timeout)
                # A new idle period: its warning (if any) comes `warning` seconds before its end.
                session.idle_warning_at = (
                    session.idle_deadline - timedelta(seconds=warning)
                    if 0 < (warning or 0) < timeout
                    else None
                )
                fields += ["idle_deadline", "idle_timeout_seconds", "idle_warning_at"]
            elif sender == Sender.CUSTOMER:
                if session.idle_deadline is not None or session.idle_warning_at is not None:
                    session.idle_deadline = session.idle_warning_at = None  # both cancelled
                    fields += ["idle_deadline", "idle_warning_at"]
            else:
                raise Invalid("Unknown sender.", field="sender")
            session.last_activity_at = now
            session.save(update_fields=fields)
            author = agent if sender == Sender.AGENT else None
            message = Message.objects.create(
                session=session, sender=sender, body=text, author=author
            )
            if upload is None:
                Message.attachment.related.set_cached_value(message, None)  # no query to say so
            else:
                stored.append(_attach_locked(session, message, upload, content_type))
            events.record(message_created(session, message))
    except BaseException:
        for file in stored:
            file.delete(save=False)
        raise
    return message


def _attach_locked(session: ChatSession, message: Message, upload, content_type: str):
    """Store the upload's bytes, then its row; returns the stored file (the caller removes it
    if the transaction fails; a crash in between leaves bytes no row points to, never a row
    without its bytes)."""
    found = Attachment(
        session=session,
        message=message,
        name=message.body,
        size=upload.size,
        content_type=content_type,
    )
    upload.seek(0)
    found.file.save("upload", upload, save=False)
    try:
        found.save()
    except BaseException:
        found.file.delete(save=False)
        raise
    Message.attachment.related.set_cached_value(message, found)
    return found.file


# Whose messages a reader reads: the other side's (system notices are nobody's to answer).
_READS = {Sender.AGENT: Sender.CUSTOMER, Sender.CUSTOMER: Sender.AGENT}


def messages_read(
    *, session_id: UUID | str, reader: str, message_id: object, agent: Agent | None = None
) -> int:
    """`reader` (the customer, or the serving agent) has read the session up to `message_id`:
    every message of the other side up to it that was unread is stamped `read_at` now, and the
    other side hears it. Marks only ever move forward: an older or repeated mark changes
    nothing and says nothing. Returns how many messages it marked."""
    if reader not in _READS:
        raise Invalid("Unknown reader.", field="reader")
    # A read mark changes no state and takes no lock: one read (the message with its session),
    # then one UPDATE that only ever fills empty stamps, each atomic on its own. Two marks at
    # once stamp disjoint messages or the same ones once.
    upto = _message_of(session_id, message_id)
    session = upto.session
    if reader == Sender.AGENT:
        check_agent_acts(session, agent)
    written = Message.objects.filter(session=session, sender=_READS[reader])
    at = upto.created_at
    not_after = Q(created_at__lt=at) | Q(created_at=at, pk__lte=upto.pk)
    marked = written.filter(not_after, read_at__isnull=True).update(read_at=timezone.now())
    if marked:
        serving = session.agent_id if session.state == SessionState.ACTIVE else None
        data = {"reader": reader, "message_id": upto.pk}
        events.record(Event(EventKind.MESSAGE_READ, session, serving, data))
    return marked


def _message_of(session_id: object, message_id: object) -> Message:
    """The message, with its session, if it belongs to that session; else NotFound (the
    session's or the message's, alike)."""
    try:
        found = Message.objects.select_related("session").get(
            session_id=UUID(str(session_id)), pk=int(str(message_id))
        )
    except (Message.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound("No such message in this chat.") from None
    return found


def session_idle_warn(*, session_id: UUID | str, wait: bool = True) -> bool:
    """Post the idle warning to an active session whose warning moment has passed: once per
    idle period (the moment is cleared as it is posted; the next agent message sets the next
    one), never after a customer reply (it cleared the moment) or the end. `wait=False`: leave
    a session someone holds to them."""
    with transaction.atomic():
        session = lock_session_for_timer(session_id, wait=wait)
        if session is None:
            return False
        now = timezone.now()
        due = session.idle_warning_at
        if session.state != SessionState.ACTIVE or due is None or now < due:
            return False
        session.idle_warning_at = None
        session.save(update_fields=["idle_warning_at"])
        late_ms = round((now - due).total_seconds() * 1000, 1)
        cfg = service_settings()
        events.record(
            *post_locked(session, cfg, "idle_warning_notice", agent=_serving_name(session)),
            Event(EventKind.SESSION_IDLE_WARNING, session, data={"late_ms": late_ms}),
        )
    return True


def _serving_name(session: ChatSession) -> str:
    return session.agent.name if session.agent_id else ""


def session_idle_end(
    *, session_id: UUID | str, deadline: datetime | None = None, wait: bool = True
) -> bool:
    """End an active session whose customer stayed silent past the idle deadline.

    `deadline`: the one a caller saw due; a newer agent message moved it, and a customer reply
    cleared it: then this call does nothing. `wait=False`: if someone holds the session, leave
    it to them (they end it, move or clear the deadline) and do nothing.
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
        session = lock_session_for_timer(session_id, wait=wait)
        if session is None:
            return False
        now = timezone.now()
        if session.state != SessionState.ACTIVE or session.idle_deadline is None:
            return False
        if deadline is not None and session.idle_deadline != deadline:
            return False
        if now < session.idle_deadline:
            return False
        said = post_locked(
            session, service_settings(), "idle_end_notice", agent=_serving_name(session)
        )
        notice = said[0].message.body if said else None
        late_ms = round((now - session.idle_deadline).total_seconds() * 1000, 1)
        events.record(
            *said, Event(EventKind.SESSION_IDLE_TIMEOUT, session, data={"late_ms": late_ms})
        )
        end_locked(session, EndReason.CUSTOMER_IDLE_TIMEOUT, now=now, notice=notice)
    return True
