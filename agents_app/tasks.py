"""Thin Celery tasks of the agents' domain."""

from celery import shared_task

from .presence import agents_mark_away_if_gone


@shared_task(ignore_result=True)
def presence_sweep_task() -> list[int]:
    """Set away the online agents whose every workspace has been gone for the grace period."""
    return agents_mark_away_if_gone()
