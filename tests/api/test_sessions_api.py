"""REST behaviour of chat sessions: accept, end, 409s, lists, CSRF, throttles, health, secrets."""

import logging
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.crypto import get_random_string
from rest_framework.test import APIClient

from sessions_app.models import ChatSession, Offer
from tests.api.conftest import client_for, customer_client


@pytest.fixture
def manual(service_settings):
    service_settings.service_mode = "manual"
    service_settings.accept_timeout_seconds = 30
    service_settings.save()
    return service_settings


@pytest.mark.django_db
def test_offered_agent_accepts_over_rest_and_the_session_becomes_active(manual, make_agent, anon):
    # Given an online agent and a customer who opens a chat over REST
    agent = make_agent()
    created = anon.post("/api/sessions/", {"customer_name": "Ann", "message": "Hi"}, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["state"] == "offered" and data["offer"]["agent_id"] == str(agent.pk)
    # When the agent accepts
    response = client_for(agent.user).post(f"/api/sessions/{data['id']}/accept/")
    # Then the session is active with that agent, and the offer is gone from the representation
    assert response.status_code == 200, response.content
    session = response.json()
    assert session["state"] == "active" and session["agent"]["id"] == str(agent.pk)
    assert "offer" not in session and session["accepted_at"]


@pytest.mark.django_db
def test_offered_agent_sees_the_session_but_must_accept_before_reading_messages(
    manual, make_agent, make_session
):
    agent = make_agent()
    session, _ = make_session()
    client = client_for(agent.user)
    assert client.get(f"/api/sessions/{session.pk}/").json()["state"] == "offered"
    response = client.get(f"/api/sessions/{session.pk}/messages/")
    assert response.status_code == 409 and response.json()["code"] == "not_active"


@pytest.mark.django_db
def test_accepting_an_expired_offer_is_a_conflict(manual, make_agent, make_session):
    # Given an offer whose deadline has passed (the expiry task has not run yet)
    agent = make_agent()
    session, _ = make_session()
    Offer.objects.filter(session=session).update(expires_at=timezone.now() - timedelta(seconds=1))
    # When the agent tries to accept it
    response = client_for(agent.user).post(f"/api/sessions/{session.pk}/accept/")
    # Then it is refused with 409 and the session is not the agent's
    assert response.status_code == 409
    assert response.json()["code"] == "offer_expired"
    assert ChatSession.objects.get(pk=session.pk).state == "offered"


@pytest.mark.django_db
def test_acting_on_an_ended_session_is_a_conflict(service_settings, make_agent, make_session):
    service_settings.service_mode = "auto"
    service_settings.save()
    agent = make_agent()
    session, token = make_session()
    holder, customer = client_for(agent.user), customer_client(token)
    assert holder.post(f"/api/sessions/{session.pk}/end/").json()["end_reason"] == "agent_ended"
    attempts = [
        customer.post(f"/api/sessions/{session.pk}/messages/", {"body": "hello?"}, format="json"),
        holder.post(f"/api/sessions/{session.pk}/messages/", {"body": "bye"}, format="json"),
        holder.post(f"/api/sessions/{session.pk}/end/"),
        customer.post(f"/api/sessions/{session.pk}/end/"),
        holder.post(f"/api/sessions/{session.pk}/accept/"),
    ]
    assert [r.status_code for r in attempts] == [409] * 5
    assert {r.json()["code"] for r in attempts} == {"session_ended"}
    # The customer can still read what happened.
    assert customer.get(f"/api/sessions/{session.pk}/").json()["state"] == "ended"


@pytest.mark.django_db
def test_messages_go_both_ways_and_each_side_reads_the_whole_conversation(
    service_settings, make_agent, make_session
):
    service_settings.service_mode = "auto"
    service_settings.save()
    agent = make_agent()
    session, token = make_session(message="Where is my order?")
    holder, customer = client_for(agent.user), customer_client(token)
    url = f"/api/sessions/{session.pk}/messages/"
    sent = holder.post(url, {"body": "Let me check."}, format="json")
    assert sent.status_code == 201 and sent.json()["sender"] == "agent"
    assert customer.post(url, {"body": "Thanks"}, format="json").json()["sender"] == "customer"
    for client in (holder, customer):
        got = [(m["sender"], m["body"]) for m in client.get(url).json()]
        assert got == [
            ("customer", "Where is my order?"),
            ("agent", "Let me check."),
            ("customer", "Thanks"),
        ]


@pytest.mark.django_db
def test_customer_token_is_returned_once_and_stored_only_as_a_hash(anon):
    created = anon.post("/api/sessions/", {"customer_name": "Bo"}, format="json").json()
    token = created["customer_token"]
    assert len(token) >= 32
    row = ChatSession.objects.get(pk=created["id"])
    assert token not in row.customer_token_hash
    read = customer_client(token).get(f"/api/sessions/{created['id']}/").json()
    assert "customer_token" not in read and read["id"] == created["id"]


@pytest.mark.django_db
def test_agent_lists_only_its_own_sessions_and_staff_lists_all(
    service_settings, make_agent, make_session, staff
):
    service_settings.service_mode = "auto"
    service_settings.save()
    first = make_agent()
    mine, _ = make_session(name="Mine")
    second = make_agent()
    theirs, _ = make_session(name="Theirs")
    queued_ids = set()
    for agent in (first, second):
        client_for(agent.user).patch("/api/agents/me/", {"status": "away"}, format="json")
    queued, _ = make_session(name="Waiting")
    queued_ids.add(str(queued.pk))

    def ids(client, query=""):
        data = client.get(f"/api/sessions/{query}").json()
        return {s["id"] for s in data["results"]}

    assert ids(client_for(first.user)) == {str(mine.pk)}
    assert ids(client_for(second.user)) == {str(theirs.pk)}
    assert {str(mine.pk), str(theirs.pk), str(queued.pk)} <= ids(staff)
    assert ids(staff, "?state=queued") == queued_ids
    queued_row = staff.get(f"/api/sessions/{queued.pk}/").json()
    assert queued_row["queue_position"] == 1 and queued_row["agent"] is None


@pytest.mark.django_db
def test_session_list_is_paginated(staff, make_session):
    for n in range(3):
        make_session(name=f"C{n}")
    page = staff.get("/api/sessions/?limit=2").json()
    assert page["count"] >= 3 and len(page["results"]) == 2 and page["next"]
    rest = staff.get(page["next"]).json()
    assert rest["previous"] and rest["results"]


@pytest.mark.django_db
def test_staff_changes_an_agents_status_and_capacity(staff, make_agent):
    agent = make_agent(status="offline", max_sessions=2)
    response = staff.patch(
        f"/api/agents/{agent.pk}/", {"status": "online", "max_sessions": None}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "online" and response.json()["max_sessions"] is None
    agent.refresh_from_db()
    assert agent.status == "online" and agent.max_sessions is None


@pytest.mark.django_db
def test_wrong_password_gets_no_token(staff_user, anon):
    response = anon.post(
        "/api/auth/token/", {"username": staff_user.username, "password": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"


# --- browsers: session cookie with CSRF; the anonymous customer page needs none ---------------


@pytest.fixture
def browser_agent(service_settings, make_agent, make_session):
    service_settings.service_mode = "auto"
    service_settings.save()
    agent = make_agent()
    session, _ = make_session()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(agent.user)
    return client, session


@pytest.mark.django_db
def test_session_cookie_write_without_csrf_token_is_refused(browser_agent):
    client, session = browser_agent
    response = client.post(f"/api/sessions/{session.pk}/end/")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert ChatSession.objects.get(pk=session.pk).state == "active"


@pytest.mark.django_db
def test_session_cookie_write_with_csrf_token_goes_through(browser_agent):
    client, session = browser_agent
    secret = get_random_string(32)
    client.cookies["csrftoken"] = secret
    response = client.post(f"/api/sessions/{session.pk}/end/", HTTP_X_CSRFTOKEN=secret)
    assert response.status_code == 200, response.content
    assert response.json()["end_reason"] == "agent_ended"


@pytest.mark.django_db
def test_customer_page_creates_and_writes_without_csrf_even_beside_a_login_cookie(browser_agent):
    client, _ = browser_agent  # same browser, logged in as an agent, no CSRF token
    created = client.post("/api/sessions/", {"customer_name": "Cy"}, format="json")
    assert created.status_code == 201, created.content
    client.credentials(HTTP_X_CUSTOMER_TOKEN=created.json()["customer_token"])
    sent = client.post(
        f"/api/sessions/{created.json()['id']}/messages/", {"body": "hi"}, format="json"
    )
    assert sent.status_code == 201, sent.content
    assert sent.json()["sender"] == "customer"


# --- throttles ----------------------------------------------------------------------------------


def _rates(settings, **rates):
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = dict(rest["DEFAULT_THROTTLE_RATES"], **rates)
    settings.REST_FRAMEWORK = rest


@pytest.mark.django_db
def test_anonymous_session_creation_is_throttled_per_address_with_retry_after(settings):
    _rates(settings, session_create="2/minute")
    address = f"10.9.{int(time.time()) % 250}.{get_random_string(2, '123456789')}"
    client, elsewhere = APIClient(REMOTE_ADDR=address), APIClient(REMOTE_ADDR=address + "1")
    codes = [
        client.post("/api/sessions/", {"customer_name": "Flood"}, format="json").status_code
        for _ in range(3)
    ]
    assert codes == [201, 201, 429]
    refused = client.post("/api/sessions/", {"customer_name": "Flood"}, format="json")
    assert refused.status_code == 429 and refused.json()["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60
    # Another address is not affected, and a spoofed X-Forwarded-For buys no fresh bucket.
    assert (
        elsewhere.post("/api/sessions/", {"customer_name": "Ok"}, format="json").status_code == 201
    )
    spoofed = client.post(
        "/api/sessions/", {"customer_name": "Sly"}, format="json", HTTP_X_FORWARDED_FOR="1.2.3.4"
    )
    assert spoofed.status_code == 429


@pytest.mark.django_db
def test_customer_messages_are_throttled_per_session(settings, make_session):
    _rates(settings, customer_message="3/minute")
    session, token = make_session()
    other, other_token = make_session()
    customer = customer_client(token)
    url = f"/api/sessions/{session.pk}/messages/"
    codes = [customer.post(url, {"body": f"m{n}"}, format="json").status_code for n in range(4)]
    assert codes == [201, 201, 201, 429]
    assert int(customer.post(url, {"body": "again"}, format="json")["Retry-After"]) > 0
    other_url = f"/api/sessions/{other.pk}/messages/"
    assert (
        customer_client(other_token).post(other_url, {"body": "hi"}, format="json").status_code
        == 201
    )
    # A wrong token cannot use up the real customer's allowance: it is a 404 and not counted.
    assert customer_client("guess").post(other_url, {"body": "x"}, format="json").status_code == 404


# --- health ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_is_ok_when_database_and_redis_answer(anon):
    response = anon.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok"}


@pytest.mark.django_db
def test_healthz_names_redis_when_it_is_down_and_answers_quickly(anon, settings):
    from tests.procs import free_port

    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    response = anon.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "redis": "down"}
    assert time.monotonic() - started < 3


# --- secrets stay out of logs ----------------------------------------------------------------


@pytest.mark.django_db
def test_customer_token_never_reaches_the_logs(anon, caplog, make_session):
    caplog.set_level(logging.DEBUG)
    created = anon.post("/api/sessions/", {"customer_name": "Di", "message": "x"}, format="json")
    token, session_id = created.json()["customer_token"], created.json()["id"]
    customer = customer_client(token)
    customer.post(f"/api/sessions/{session_id}/messages/", {"body": "y"}, format="json")
    customer.get(f"/api/sessions/{session_id}/")
    other, _ = make_session()
    customer.get(f"/api/sessions/{other.pk}/")  # someone else's: a logged 404
    customer.post(f"/api/sessions/{session_id}/messages/", {"body": ""}, format="json")
    assert caplog.records  # the requests were logged at all...
    assert token not in caplog.text  # ...but never with the secret


@pytest.mark.django_db
def test_staff_with_an_agent_profile_accepts_and_ends_as_the_agent(
    manual, make_agent, make_session
):
    # Given a staff member who is also an agent and has been offered a chat
    agent = make_agent()
    agent.user.is_staff = True
    agent.user.save(update_fields=["is_staff"])
    session, _ = make_session()
    client = client_for(agent.user)
    # When they accept and then end it
    accepted = client.post(f"/api/sessions/{session.pk}/accept/")
    ended = client.post(f"/api/sessions/{session.pk}/end/")
    # Then they served it as its agent, not as staff
    assert accepted.status_code == 200 and accepted.json()["agent"]["id"] == str(agent.pk)
    assert ended.json()["end_reason"] == "agent_ended"


@pytest.mark.django_db
def test_staff_ends_any_session_as_staff(staff, make_session):
    session, _ = make_session()
    response = staff.post(f"/api/sessions/{session.pk}/end/")
    assert response.status_code == 200
    assert response.json()["state"] == "ended" and response.json()["end_reason"] == "staff_ended"
