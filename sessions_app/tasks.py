"""Thin Celery tasks: the fast path of each timer. The services re-check every deadline."""

import logging
from datetime import datetime

from celery import shared_task

from . import services

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def offer_expire_task(offer_id: int) -> str:
    result = services.offer_expire(offer_id=offer_id)
    if result is services.ExpireResult.NOT_DUE:
        # Fired a hair early (clock granularity): try again at the deadline itself.
        from .models import Offer

        expires_at = Offer.objects.filter(pk=offer_id).values_list("expires_at", flat=True).first()
        if expires_at is not None:
            offer_expire_task.apply_async(args=[offer_id], eta=expires_at)
    return result.value


@shared_task(ignore_result=True)
def session_idle_end_task(session_id: str, deadline: str) -> bool:
    when = datetime.fromisoformat(deadline)
    ended = services.session_idle_end(session_id=session_id, deadline=when)
    if not ended:
        from .models import ChatSession

        # Early by a hair with the same deadline still set: retry at the deadline.
        row = ChatSession.objects.filter(pk=session_id, idle_deadline=when, state="active")
        if row.exists() and datetime.now(when.tzinfo) < when:
            session_idle_end_task.apply_async(args=[session_id, deadline], eta=when)
    return ended


@shared_task(ignore_result=True)
def timers_sweep_task() -> dict:
    found = services.timers_sweep()
    if any(found.values()):
        log.info("sweep resolved %s", found)
    return found
