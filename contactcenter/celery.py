"""The Celery application: configured from Django settings, tasks found in the apps."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")

app = Celery("contactcenter")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Celery's Django fixup closes every connection before and after each task and, in prefork
# children with a database pool, closes the whole pool too (celery/fixups/django.py): two new
# PostgreSQL backends per task, most of a worker's database time under load. With a reuse
# count it does that only every 2 x this many tasks (and once in each new child); in between,
# connections go back to the pool, checked, as a request's do.
app.conf.CELERY_DB_REUSE_MAX = int(os.environ.get("CELERY_DB_REUSE_MAX", "5000"))


@task_prerun.connect
@task_postrun.connect
def _return_connections(**kwargs) -> None:
    from django.db import close_old_connections

    close_old_connections()


@worker_ready.connect
def _sweep_on_start(sender=None, **kwargs) -> None:
    """A worker that starts (after a crash, say) sweeps at once: timers whose countdown tasks
    died with the worker before it are due now, not at the beat's next sweep."""
    from django.conf import settings

    app.send_task("sessions_app.tasks.timers_sweep_task", queue=settings.CELERY_TIMER_QUEUE)
