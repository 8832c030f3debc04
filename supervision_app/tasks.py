"""Celery tasks of supervision: the reports' day rollups."""

from celery import shared_task

from .rollup import rollup_days


@shared_task(ignore_result=True)
def reports_rollup_task() -> int:
    """Write the days that are over and not rolled up yet (or dropped by a later change)."""
    return rollup_days()
