"""Celery tasks of the webhooks queue: the pump, and pruning the delivery log."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .delivery import run_pump
from .models import Delivery, DeliveryStatus, OutboxEvent


@shared_task(ignore_result=True)
def webhooks_pump_task() -> int:
    """Send what is due (woken after a commit, and by beat for retries and lost wakes)."""
    return run_pump()


@shared_task(ignore_result=True)
def webhooks_prune_task() -> int:
    """Delivered rows older than WEBHOOK_RETENTION_DAYS go, then events nobody refers to."""
    before = timezone.now() - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    old = Delivery.objects.filter(status=DeliveryStatus.DELIVERED, finished_at__lt=before)
    gone, _ = old.delete()
    OutboxEvent.objects.filter(created_at__lt=before, deliveries__isnull=True).delete()
    return gone
