"""Webhooks against a real receiver on 127.0.0.1 and the real delivery worker: every event
once, signed; retries with growing gaps; failures; the breaker; a worker killed mid-send."""

import hashlib
import hmac
import json
import time

import pytest

from agents_app.actions.status import agent_set_status
from sessions_app.actions.create import session_create
from sessions_app.actions.end import session_end
from sessions_app.actions.messages import message_send
from sessions_app.actions.offers import offer_accept
from sessions_app.actions.rating import rating_submit
from sessions_app.actions.transfer import session_transfer
from tests.conftest import unique, wait_until
from webhooks_app.actions import webhook_create, webhook_ping
from webhooks_app.models import Delivery, Webhook

from .receiver import Receiver, Script

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def receiver():
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def hooks(webhook_worker, celery_worker, celery_beat, service_settings):
    """The delivery worker, the timers' worker and beat running; manual mode."""
    service_settings.service_mode = "manual"
    service_settings.accept_timeout_seconds = 600
    service_settings.save()
    yield
    Webhook.objects.update(is_active=False)  # nothing more for this test's receiver paths


def path() -> str:
    return f"/{unique('hook')}"


def verify(request, secret: str) -> dict:
    """The request's signature checks out; its body as JSON."""
    stamp = request.headers["X-Desk-Timestamp"]
    expected = hmac.new(
        secret.encode(), f"{stamp}.".encode() + request.body, hashlib.sha256
    ).hexdigest()
    assert request.headers["X-Desk-Signature"] == f"sha256={expected}"
    assert abs(int(stamp) - time.time()) < 60
    return json.loads(request.body)


def test_every_event_type_arrives_once_signed_with_the_documented_body(hooks, receiver, make_agent):
    # Given a webhook for every event
    where = path()
    hook = webhook_create(url=receiver.url(where), events=["*"], description="all")
    # When a whole chat happens: queued, offered, assigned, messages, transferred, ended, rated
    session, token = session_create(customer_name="Maria", message="My parcel", language="en")
    alice = make_agent(name="alice")  # online: the queued chat is offered to her
    offer_accept(session_id=session.pk, agent=alice)
    message_send(session_id=session.pk, sender="agent", body="Let me look", agent=alice)
    bob = make_agent(name="bob")
    session_transfer(session_id=session.pk, by_agent=alice, to_agent=bob.pk, note="Billing")
    offer_accept(session_id=session.pk, agent=bob)
    session_end(session_id=session.pk, reason="agent_ended", agent=bob)
    rating_submit(session_id=session.pk, score=4, comment="Quick")
    agent_set_status(agent_id=alice.pk, status="away", reason="lunch")
    webhook_ping(webhook_id=hook.pk)
    expected = {
        "session.created",
        "session.queued",
        "session.offered",
        "session.assigned",
        "session.transferred",
        "session.ended",
        "message.created",
        "agent.status_changed",
        "rating.submitted",
        "ping",
    }

    # Then each type arrives, signed, with the documented shape
    def types():
        return {r.headers["X-Desk-Event"] for r in receiver.at(where)}

    wait_until(lambda: expected <= types(), timeout=20)
    wait_until(lambda: not Delivery.objects.filter(webhook=hook, status="pending").exists(), 10)
    received = receiver.at(where)
    ids = [r.headers["X-Desk-Delivery"] for r in received]
    assert len(ids) == len(set(ids)), "a delivery arrived twice"
    assert len(received) == Delivery.objects.filter(webhook=hook).count()
    bodies = {}
    for request in received:
        body = verify(request, hook.secret)
        assert set(body) == {"id", "type", "created_at", "data"}
        assert body["type"] == request.headers["X-Desk-Event"]
        bodies.setdefault(body["type"], body)
    assert bodies["session.created"]["data"]["session"]["id"] == str(session.pk)
    assert bodies["session.offered"]["data"]["session"]["state"] == "offered"
    assert bodies["message.created"]["data"]["session_id"] == str(session.pk)
    assert "body" in bodies["message.created"]["data"]["message"]
    statuses = [
        verify(r, hook.secret)["data"]["agent"]
        for r in received
        if r.headers["X-Desk-Event"] == "agent.status_changed"
    ]
    assert {"id": str(alice.pk), "status": "away"}.items() <= statuses[-1].items() or any(
        a["id"] == str(alice.pk) and a["status"] == "away" for a in statuses
    )
    assert bodies["rating.submitted"]["data"]["rating"]["score"] == 4
    assert bodies["ping"]["data"] == {}
    record = bodies["session.ended"]["data"]["record"]
    assert record["end_reason"] == "agent_ended" and record["transfers"] == 1
    assert record["offers"] == 1 and record["missed_offers"] == 0
    assert record["messages"]["customer"] == 1 and record["messages"]["agent"] == 1
    assert record["agent"]["id"] == str(bob.pk)
    assert record["wait_seconds"] >= record["queued_seconds"] >= 0
    assert record["handle_seconds"] >= 0


def test_a_receiver_failing_three_times_gets_four_attempts_with_growing_gaps(hooks, receiver):
    where = path()
    receiver.scripts[where] = Script(statuses=[500, 503, 500, 200])
    hook = webhook_create(url=receiver.url(where), events=["*"])
    webhook_ping(webhook_id=hook.pk)
    wait_until(lambda: len(receiver.at(where)) == 4, timeout=20)
    attempts = receiver.at(where)
    assert len({r.headers["X-Desk-Delivery"] for r in attempts}) == 1
    assert len({r.body for r in attempts}) == 1  # the same event, byte for byte
    gaps = [b.at - a.at for a, b in zip(attempts, attempts[1:], strict=False)]
    print("gaps between attempts (s):", [round(g, 2) for g in gaps])
    assert gaps[0] < gaps[1] < gaps[2], gaps
    delivery = wait_until(
        lambda: Delivery.objects.filter(webhook=hook, status="delivered").first(), 5
    )
    assert delivery.attempts == 4 and delivery.last_status_code == 200
    time.sleep(1.5)
    assert len(receiver.at(where)) == 4  # nothing after success


def test_a_410_fails_at_once(hooks, receiver):
    where = path()
    receiver.scripts[where] = Script(statuses=[410])
    hook = webhook_create(url=receiver.url(where), events=["*"])
    webhook_ping(webhook_id=hook.pk)
    failed = wait_until(lambda: Delivery.objects.filter(webhook=hook, status="failed").first(), 10)
    assert (failed.attempts, failed.last_status_code) == (1, 410)
    time.sleep(2)
    assert len(receiver.at(where)) == 1


def test_a_hanging_receiver_times_out_and_is_tried_again(hooks, receiver, settings):
    where = path()
    receiver.scripts[where] = Script(
        statuses=[200], delays=[settings.WEBHOOK_TIMEOUT_SECONDS + 2, 0]
    )
    hook = webhook_create(url=receiver.url(where), events=["*"])
    webhook_ping(webhook_id=hook.pk)
    delivered = wait_until(
        lambda: Delivery.objects.filter(webhook=hook, status="delivered").first(), 20
    )
    assert delivered.attempts == 2
    ids = {r.headers["X-Desk-Delivery"] for r in receiver.at(where)}
    assert ids == {str(delivered.pk)}


def test_a_slow_endpoint_does_not_hold_up_another(hooks, receiver):
    slow_path, fast_path = path(), path()
    receiver.scripts[slow_path] = Script(delays=[1.5])
    slow = webhook_create(url=receiver.url(slow_path), events=["*"])
    fast = webhook_create(url=receiver.url(fast_path), events=["*"])
    for _ in range(30):
        webhook_ping(webhook_id=slow.pk)
    started = time.time()
    for _ in range(30):
        webhook_ping(webhook_id=fast.pk)
    wait_until(lambda: len(receiver.at(fast_path)) == 30, timeout=10)
    took = time.time() - started
    print(f"30 fast deliveries in {took:.2f}s while 30 slow ones (1.5 s each) wait their turn")
    assert took < 4, took
    assert len(receiver.at(slow_path)) < 30  # the slow ones are still going


def test_fifty_failures_in_a_row_turn_the_webhook_off(hooks, receiver, make_session):
    where = path()
    receiver.scripts[where] = Script(statuses=[410])
    hook = webhook_create(url=receiver.url(where), events=["session.created"])
    for _ in range(50):
        webhook_ping(webhook_id=hook.pk)
    off = wait_until(lambda: not Webhook.objects.get(pk=hook.pk).is_active, timeout=20)
    assert off
    hook.refresh_from_db()
    assert hook.failures_in_a_row >= 50 and "failed deliveries in a row" in hook.disabled_reason
    # And nothing new is recorded for it
    before = Delivery.objects.filter(webhook=hook).count()
    make_session()
    assert Delivery.objects.filter(webhook=hook).count() == before


def test_a_success_resets_the_run_of_failures(hooks, receiver):
    where = path()
    receiver.scripts[where] = Script(statuses=[410, 410, 200])
    hook = webhook_create(url=receiver.url(where), events=["*"])
    for _ in range(3):
        webhook_ping(webhook_id=hook.pk)
        wait_until(lambda: not Delivery.objects.filter(webhook=hook, status="pending"), 10)
    hook.refresh_from_db()
    assert hook.failures_in_a_row == 0 and hook.is_active


def test_the_worker_killed_with_200_in_flight_delivers_all_after_a_restart(
    hooks, receiver, webhook_worker
):
    # Given 25 webhooks with 8 deliveries each, to a receiver taking 1 s per request (within
    # the timeout): with 8 in flight per webhook, all 200 are being sent at once
    paths = [path() for _ in range(25)]
    for where in paths:
        receiver.scripts[where] = Script(delays=[1.0])
    made = [webhook_create(url=receiver.url(p), events=["ping"]) for p in paths]
    wanted = {str(webhook_ping(webhook_id=h.pk).pk) for h in made for _ in range(8)}
    assert len(wanted) == 200

    def arrived() -> list:
        return [r for p in paths for r in receiver.at(p)]

    wait_until(lambda: len(arrived()) >= 150, timeout=20)
    # When the worker is SIGKILLed while they are in flight, and started again
    webhook_worker.kill()
    in_flight = len(arrived())
    from tests import procs

    webhook_worker.start()
    procs.wait_worker_ready(webhook_worker)
    # Then every delivery is delivered, each X-Desk-Delivery seen at least once
    wait_until(
        lambda: Delivery.objects.filter(pk__in=wanted, status="delivered").count() == 200,
        timeout=60,
    )
    seen = {r.headers["X-Desk-Delivery"] for r in arrived()}
    print(f"{in_flight} requests had arrived at the kill; {len(arrived())} in all for 200")
    assert wanted <= seen
