"""The customer rates a chat: once, after an agent served it, within the settings' window."""

from uuid import UUID

from django.db import IntegrityError, transaction

from agents_app.selectors import service_settings
from core.errors import Conflict, Invalid
from core.text import clean_note

from .. import events
from ..events import Event
from ..locks import lock_session
from ..models import EventKind, Rating, SessionState
from ..selectors import rating_open

MAX_COMMENT = 1000


def rating_submit(*, session_id: UUID | str, score: object, comment: object = None) -> Rating:
    """The customer's rating of its chat (the caller has checked the customer's token)."""
    cfg = service_settings()
    if isinstance(score, bool) or not isinstance(score, int):
        raise Invalid("score must be a whole number.", field="score")
    if not 1 <= score <= cfg.rating_scale:
        raise Invalid(f"score is from 1 to {cfg.rating_scale}.", field="score")
    text = clean_note(comment, field="comment", limit=MAX_COMMENT)
    with transaction.atomic():
        session = lock_session(session_id)
        if session.state != SessionState.ENDED:
            raise Conflict("Rate the chat once it has ended.", code="rating_closed")
        if Rating.objects.filter(session=session).exists():
            raise Conflict("You already rated this chat.", code="already_rated")
        if not rating_open(session, cfg):
            raise Conflict("This chat can no longer be rated.", code="rating_closed")
        try:
            with transaction.atomic():
                rating = Rating.objects.create(
                    session=session,
                    agent_id=session.agent_id,
                    score=score,
                    scale=cfg.rating_scale,
                    comment=text,
                )
        except IntegrityError:  # rated meanwhile (the session lock makes this unlikely)
            raise Conflict("You already rated this chat.", code="already_rated") from None
        data = {"score": score, "scale": cfg.rating_scale}
        events.record(Event(EventKind.RATING_SUBMITTED, session, session.agent_id, data))
    return rating
