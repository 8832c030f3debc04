"""The webhooks' admin: the secret shown once, the delivery log with its filters and the
request and response, redeliver and rotate."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from webhooks_app.models import Delivery, DeliveryStatus, OutboxEvent, Webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def public(monkeypatch):
    from webhooks_app import guard

    monkeypatch.setattr(guard, "resolve", lambda host, port: ["93.184.216.34"])


def said(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def test_a_webhook_added_in_admin_shows_its_secret_once(admin_client, public, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = admin_client.post(
        "/admin/webhooks_app/webhook/add/",
        {
            "url": "https://crm.example.com/hook",
            "description": "CRM",
            "events": ["session.ended", "rating.submitted"],
            "is_active": "on",
        },
        follow=True,
    )
    hook = Webhook.objects.get(description="CRM")
    assert hook.events == ["rating.submitted", "session.ended"]
    assert hook.secret in said(response)
    page = admin_client.get(f"/admin/webhooks_app/webhook/{hook.pk}/change/").content.decode()
    assert hook.secret not in page
    # Rotating shows the new one, once
    rotated = admin_client.post(
        "/admin/webhooks_app/webhook/",
        {"action": "rotate_secret", "_selected_action": [hook.pk]},
        follow=True,
    )
    hook.refresh_from_db()
    assert hook.secret in said(rotated)


def test_an_inside_address_is_refused_in_admin(admin_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = admin_client.post(
        "/admin/webhooks_app/webhook/add/",
        {"url": "http://127.0.0.1:9000/x", "events": ["*"], "is_active": "on"},
        follow=True,
    )
    assert "not public" in said(response)
    assert not Webhook.objects.filter(url="http://127.0.0.1:9000/x").exists()


def test_the_delivery_log_filters_shows_the_exchange_and_redelivers(admin_client, public):
    hook = Webhook.objects.create(url="https://crm.example.com/hook", events=["*"], secret="s" * 20)
    now = timezone.now()
    event = OutboxEvent.objects.create(type="ping", created_at=now, data={"hello": "desk"})
    failed = Delivery.objects.create(
        webhook=hook,
        event=event,
        event_type="ping",
        status=DeliveryStatus.FAILED,
        attempts=1,
        last_status_code=410,
        last_error="HTTP 410",
        response_body='{"gone": true}',
        created_at=now,
        finished_at=now,
    )
    listed = admin_client.get("/admin/webhooks_app/delivery/?status__exact=failed&event_type=ping")
    assert str(failed.pk) in listed.content.decode() or "410" in listed.content.decode()
    none = admin_client.get("/admin/webhooks_app/delivery/?status__exact=delivered")
    assert "HTTP 410" not in none.content.decode()
    page = admin_client.get(f"/admin/webhooks_app/delivery/{failed.pk}/change/").content.decode()
    assert "hello" in page and "desk" in page and "gone" in page and "410" in page
    assert 'name="_save"' not in page  # read only
    admin_client.post(
        "/admin/webhooks_app/delivery/",
        {"action": "redeliver", "_selected_action": [failed.pk]},
    )
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)


def test_the_delivery_log_shows_times_to_the_second_and_no_save_buttons(admin_client):
    # Given a delivery made and delivered at known seconds
    hook = Webhook.objects.create(url="https://crm.example.com/hook", events=["*"], secret="s" * 20)
    at = datetime(2026, 12, 6, 13, 40, 7, tzinfo=UTC)
    event = OutboxEvent.objects.create(type="ping", created_at=at, data={})
    done = Delivery.objects.create(
        webhook=hook,
        event=event,
        event_type="ping",
        status=DeliveryStatus.DELIVERED,
        attempts=1,
        created_at=at,
        delivered_at=at + timedelta(seconds=2),
    )
    # Then the log and the delivery's page show them to the second
    listed = admin_client.get("/admin/webhooks_app/delivery/").content.decode()
    page = admin_client.get(f"/admin/webhooks_app/delivery/{done.pk}/change/").content.decode()
    for shown in (listed, page):
        assert "2026-12-06 13:40:07" in shown and "2026-12-06 13:40:09" in shown
        assert "p.m." not in shown
    # And a log's page offers nothing to save
    for button in ('name="_save"', 'name="_continue"', 'name="_addanother"'):
        assert button not in page
