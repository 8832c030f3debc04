"""/metrics: who may read it, and that it shows the desk's state and timer and push figures."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from sessions_app import metrics
from sessions_app.models import ChatSession, Offer, SessionEvent

NAMED_SERIES = {
    "cc_sessions",
    "cc_queue_length",
    "cc_queue_oldest_wait_seconds",
    "cc_agents",
    "cc_offers_made",
    "cc_offers_accepted",
    "cc_offers_expired",
    "cc_idle_ends",
    "cc_timer_lateness_seconds",
    "cc_push_latency_seconds",
    "cc_push_dropped",
    "cc_push_resynced",
}


def samples(text: str) -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(client, **extra) -> dict[tuple, float]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return samples(response.content.decode())


@pytest.fixture
def staff_client(client, db):
    user = get_user_model().objects.create_user("boss", password="pw", is_staff=True)
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_staff_reads_metrics_from_any_address(staff_client, service_settings):
    response = staff_client.get("/metrics", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 200
    families = {f.name for f in text_string_to_metric_families(response.content.decode())}
    assert families >= NAMED_SERIES


@pytest.mark.django_db
def test_anonymous_from_an_address_not_allowed_gets_403(client, monkeypatch):
    monkeypatch.setenv("METRICS_ALLOW_IPS", "127.0.0.1,10.0.0.7")

    refused = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    allowed = client.get("/metrics", REMOTE_ADDR="10.0.0.7")

    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert allowed.status_code == 200


@pytest.mark.django_db
def test_non_staff_user_from_outside_is_refused(client):
    user = get_user_model().objects.create_user("someone", password="pw")
    client.force_login(user)

    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403


@pytest.mark.django_db
def test_metrics_show_sessions_queue_offers_and_idle_ends(client, service_settings, make_agent):
    """Given two queued sessions (one waiting 90 s), an active one, offers and an idle end."""
    agent = make_agent(status="away", max_sessions=5)
    now = timezone.now()
    make = dict(customer_name="C", customer_token_hash="x" * 64)
    old = ChatSession.objects.create(state="queued", **make)
    ChatSession.objects.filter(pk=old.pk).update(created_at=now - timedelta(seconds=90))
    ChatSession.objects.create(state="queued", **make)
    active = ChatSession.objects.create(state="active", agent=agent, accepted_at=now, **make)
    ChatSession.objects.create(
        state="ended", ended_at=now, end_reason="customer_idle_timeout", **make
    )
    for outcome in ("accepted", "expired", "expired"):
        Offer.objects.create(
            session=active, agent=agent, expires_at=now, timeout_seconds=30, outcome=outcome
        )

    found = scrape(client)

    assert found[("cc_sessions", (("state", "queued"),))] == 2
    assert found[("cc_sessions", (("state", "active"),))] == 1
    assert found[("cc_queue_length", ())] == 2
    assert 89 <= found[("cc_queue_oldest_wait_seconds", ())] < 120
    assert found[("cc_offers_made_total", ())] == 3
    assert found[("cc_offers_accepted_total", ())] == 1
    assert found[("cc_offers_expired_total", ())] == 2
    assert found[("cc_idle_ends_total", ())] == 1
    assert found[("cc_agents", (("status", "away"),))] == 1


@pytest.mark.django_db
def test_timer_lateness_histogram_comes_from_the_late_ms_of_timer_events(client, service_settings):
    chat = ChatSession.objects.create(customer_name="C", customer_token_hash="x" * 64)
    for late_ms in (3.0, 40.0, 700.0):
        SessionEvent.objects.create(session=chat, kind="offer.expired", data={"late_ms": late_ms})
    SessionEvent.objects.create(session=chat, kind="session.idle_timeout", data={"late_ms": 20})

    found = scrape(client)

    offer = (("timer", "offer_expiry"),)
    assert found[("cc_timer_lateness_seconds_count", offer)] == 3
    assert found[("cc_timer_lateness_seconds_bucket", (("le", "0.05"), *offer))] == 2
    assert found[("cc_timer_lateness_seconds_bucket", (("le", "1"), *offer))] == 3
    assert found[("cc_timer_lateness_seconds_sum", offer)] == pytest.approx(0.743)
    idle = (("timer", "idle_end"),)
    assert found[("cc_timer_lateness_seconds_count", idle)] == 1


@pytest.mark.django_db
def test_push_figures_recorded_in_any_process_are_summed_in_redis(client, service_settings):
    before = scrape(client)

    metrics.observe_push_latency(0.004)
    metrics.observe_push_latency(0.3)
    metrics.count_push_dropped()
    metrics.count_push_resynced(2)
    metrics.flush()

    after = scrape(client)

    def delta(name: str, labels: tuple = ()) -> float:
        return after[(name, labels)] - before[(name, labels)]

    assert delta("cc_push_latency_seconds_count") == 2
    assert delta("cc_push_latency_seconds_bucket", (("le", "0.005"),)) == 1
    assert delta("cc_push_dropped_total") == 1
    assert delta("cc_push_resynced_total") == 2
