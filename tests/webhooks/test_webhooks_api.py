"""Webhooks over REST (staff), the SSRF guard at save and at delivery, redelivery, pruning,
and the session record."""

import asyncio
import json
import uuid
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from sessions_app.actions.create import session_create
from sessions_app.actions.end import session_end
from sessions_app.actions.messages import message_send
from sessions_app.actions.offers import offer_accept
from tests.api.conftest import client_for
from webhooks_app import delivery, guard
from webhooks_app.actions import webhook_create
from webhooks_app.models import Delivery, DeliveryStatus, OutboxEvent, Webhook
from webhooks_app.tasks import webhooks_prune_task

from .receiver import Receiver

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.216.34"


@pytest.fixture
def staff(staff_user):
    return client_for(staff_user)


@pytest.fixture
def public_dns(monkeypatch):
    """Every name resolves to a public address (no real DNS in the tests)."""
    answers = {"default": [PUBLIC]}
    monkeypatch.setattr(guard, "resolve", lambda host, port: answers.get(host, answers["default"]))
    return answers


def test_staff_create_a_webhook_and_see_its_secret_once(staff, public_dns):
    created = staff.post(
        "/api/webhooks/",
        {"url": "https://crm.example.com/hooks", "events": ["session.ended"], "description": "CRM"},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 30
    assert body["events"] == ["session.ended"] and body["is_active"] is True
    read = staff.get(f"/api/webhooks/{body['id']}/").json()
    assert "secret" not in read
    assert all("secret" not in w for w in staff.get("/api/webhooks/").json()["results"])
    rotated = staff.post(f"/api/webhooks/{body['id']}/rotate-secret/").json()
    assert rotated["secret"] != body["secret"]
    assert Webhook.objects.get(pk=body["id"]).secret == rotated["secret"]
    changed = staff.patch(
        f"/api/webhooks/{body['id']}/", {"events": ["*"], "is_active": False}, format="json"
    )
    assert changed.json()["events"] == ["*"] and changed.json()["is_active"] is False
    assert staff.delete(f"/api/webhooks/{body['id']}/").status_code == 204
    assert staff.get(f"/api/webhooks/{body['id']}/").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://crm.example.com/x", "events": ["*"]}, "url"),
        ({"url": "https://crm.example.com/x", "events": []}, "events"),
        ({"url": "https://crm.example.com/x", "events": ["session.exploded"]}, "events"),
        ({"url": "https://crm.example.com/x", "events": "session.ended"}, "events"),
        ({"url": "https://user:pw@crm.example.com/x", "events": ["*"]}, "url"),
        ({"url": "https://crm.example.com/x", "events": ["*"], "secret": "short"}, "secret"),
    ],
)
def test_a_bad_webhook_is_refused_with_the_field_named(staff, public_dns, body, field):
    response = staff.post("/api/webhooks/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_inside_addresses_are_refused_at_save(staff, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = staff.post("/api/webhooks/", {"url": url, "events": ["*"]}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "url_not_allowed" and response.json()["field"] == "url"
    assert not Webhook.objects.filter(url=url).exists()


def test_a_name_that_later_resolves_inside_is_refused_at_delivery(settings, public_dns):
    # Given a webhook saved while its name resolved to a public address
    settings.WEBHOOK_ALLOW_PRIVATE = False
    receiver = Receiver()
    try:
        url = f"http://hooks.example.com:{receiver.port}/in"
        hook = webhook_create(url=url, events=["*"])
        # When its DNS answers a private address at delivery time (rebinding)
        public_dns["hooks.example.com"] = ["127.0.0.1"]
        claimed = delivery.Claimed(
            uuid.uuid4(), hook.pk, hook.url, hook.secret, "ping", b"{}", attempts=0
        )

        async def send():
            async with httpx.AsyncClient() as client:
                return await delivery.attempt(client, claimed, asyncio.get_running_loop())

        outcome = asyncio.run(send())
        # Then the attempt is refused, not retried, and nothing reaches the receiver
        assert outcome.status_code is None and outcome.retry is False
        assert outcome.error.startswith("refused:") and "not public" in outcome.error
        assert receiver.requests == []
    finally:
        receiver.close()


def test_agents_and_anonymous_callers_cannot_touch_webhooks(make_agent):
    agent = make_agent()
    assert client_for(agent.user).get("/api/webhooks/").status_code == 403
    assert APIClient().get("/api/webhooks/").status_code == 401
    response = client_for(agent.user).post(
        "/api/webhooks/", {"url": "https://x.example.com", "events": ["*"]}, format="json"
    )
    assert response.status_code == 403


def test_the_delivery_log_filters_and_redelivers_with_the_same_id(staff, public_dns):
    hook = webhook_create(url="https://crm.example.com/hooks", events=["*"])
    event = OutboxEvent.objects.create(type="ping", created_at=timezone.now(), data={})
    failed = Delivery.objects.create(
        webhook=hook,
        event=event,
        event_type="ping",
        status=DeliveryStatus.FAILED,
        attempts=8,
        last_status_code=503,
        last_error="HTTP 503",
        created_at=timezone.now(),
        finished_at=timezone.now(),
    )
    listed = staff.get(f"/api/webhooks/{hook.pk}/deliveries/?status=failed").json()["results"]
    assert [d["id"] for d in listed] == [str(failed.pk)]
    assert listed[0]["attempts"] == 8 and listed[0]["last_status_code"] == 503
    assert staff.get(f"/api/webhooks/{hook.pk}/deliveries/?status=delivered").json()["count"] == 0
    assert staff.get(f"/api/webhooks/{hook.pk}/deliveries/?status=nope").status_code == 400
    again = staff.post(f"/api/webhooks/{hook.pk}/deliveries/{failed.pk}/redeliver/")
    assert again.status_code == 202 and again.json()["id"] == str(failed.pk)
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)
    missing = staff.post(f"/api/webhooks/{hook.pk}/deliveries/{uuid.uuid4()}/redeliver/")
    assert missing.status_code == 404
    assert staff.post(f"/api/webhooks/{hook.pk}/deliveries/nope/redeliver/").status_code == 404


def test_the_signature_can_be_checked_as_the_docs_say(public_dns):
    body = delivery.body_of(
        OutboxEvent(id=uuid.uuid4(), type="ping", created_at=timezone.now(), data={})
    )
    headers = delivery.headers_for(uuid.uuid4(), "ping", "whsec_test", body, 1765000000.2)
    assert headers["X-Desk-Timestamp"] == "1765000000"
    import hashlib
    import hmac

    mac = hmac.new(b"whsec_test", b"1765000000." + body, hashlib.sha256).hexdigest()
    assert headers["X-Desk-Signature"] == f"sha256={mac}"
    assert json.loads(body)["type"] == "ping"


def test_delivered_rows_past_the_retention_are_pruned(settings, public_dns):
    settings.WEBHOOK_RETENTION_DAYS = 14
    hook = webhook_create(url="https://crm.example.com/hooks", events=["*"])
    old, recent = timezone.now() - timedelta(days=15), timezone.now() - timedelta(days=2)
    rows = {}
    for name, at, status in [
        ("old_delivered", old, "delivered"),
        ("old_failed", old, "failed"),
        ("recent_delivered", recent, "delivered"),
    ]:
        event = OutboxEvent.objects.create(type="ping", created_at=at, data={})
        rows[name] = Delivery.objects.create(
            webhook=hook,
            event=event,
            event_type="ping",
            status=status,
            created_at=at,
            finished_at=at,
        )
    assert webhooks_prune_task() == 1
    left = set(Delivery.objects.filter(webhook=hook).values_list("pk", flat=True))
    assert left == {rows["old_failed"].pk, rows["recent_delivered"].pk}
    assert not OutboxEvent.objects.filter(pk=rows["old_delivered"].event_id).exists()


def test_an_ended_session_shows_its_record(make_agent, service_settings):
    from tests.api.conftest import customer_client

    agent = make_agent()
    session, token = session_create(customer_name="Ann", message="Hi")
    offer_accept(session_id=session.pk, agent=agent)
    message_send(session_id=session.pk, sender="agent", body="Hello", agent=agent)
    message_send(session_id=session.pk, sender="customer", body="Thanks")
    assert "record" not in customer_client(token).get(f"/api/sessions/{session.pk}/").json()
    session_end(session_id=session.pk, reason="customer_ended")
    record = customer_client(token).get(f"/api/sessions/{session.pk}/").json()["record"]
    assert record["messages"] == {"customer": 2, "agent": 1, "system": 0}
    assert record["offers"] == 1 and record["missed_offers"] == 0 and record["transfers"] == 0
    assert record["end_reason"] == "customer_ended"
    assert record["agent"]["id"] == str(agent.pk) and record["rating"] is None
    assert 0 <= record["queued_seconds"] <= record["wait_seconds"] < 5
    assert record["handle_seconds"] >= 0


def test_an_attempt_connects_to_the_address_it_checked(settings, monkeypatch):
    # Given a name the guard resolves (and finds acceptable) that no real DNS knows
    settings.WEBHOOK_ALLOW_PRIVATE = False
    monkeypatch.setattr(guard, "resolve", lambda host, port: ["127.0.0.1"])
    monkeypatch.setattr(guard, "_forbidden", lambda address: False)  # as if it were public
    receiver = Receiver()
    try:
        url = f"http://hooks.invalid:{receiver.port}/pinned"
        claimed = delivery.Claimed(uuid.uuid4(), 1, url, "whsec_x" * 3, "ping", b"{}", 0)

        async def send():
            async with httpx.AsyncClient() as client:
                return await delivery.attempt(client, claimed, asyncio.get_running_loop())

        outcome = asyncio.run(send())
        # Then the request went to that address (".invalid" never resolves), named as the URL
        assert outcome.status_code == 200, outcome.error
        (request,) = receiver.at("/pinned")
        assert request.headers["Host"] == f"hooks.invalid:{receiver.port}"
    finally:
        receiver.close()


def test_a_pinned_https_request_keeps_its_name_for_tls():
    url, host, extensions = guard.pinned("https://crm.example.com/hook?x=1", "2001:db8::7")
    assert url == "https://[2001:db8::7]/hook?x=1"
    assert host == {"Host": "crm.example.com"} and extensions == {"sni_hostname": "crm.example.com"}
    assert guard.pinned("http://a.example.com:8080/h", None) == (
        "http://a.example.com:8080/h",
        {},
        {},
    )
