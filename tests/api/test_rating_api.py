"""Satisfaction rating: once, only after an agent served the chat, within the window, in range."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sessions_app.actions.end import session_end
from sessions_app.actions.offers import offer_accept
from sessions_app.models import ChatSession, Rating, SessionEvent
from tests.api.conftest import client_for, customer_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def ended_chat(service_settings, make_agent, make_session):
    """A chat Alice served and then ended: (session, alice, the customer's client)."""
    alice = make_agent()
    session, token = make_session(name="Maria")
    offer_accept(session_id=session.pk, agent=alice)
    session_end(session_id=session.pk, reason="agent_ended", agent=alice)
    return session, alice, customer_client(token)


def rate(client, session, body):
    return client.post(f"/api/sessions/{session.pk}/rating/", body, format="json")


def test_the_customer_rates_once_and_the_session_shows_it(ended_chat):
    session, alice, customer = ended_chat
    first = rate(customer, session, {"score": 4, "comment": "Quick and kind"})
    assert first.status_code == 201, first.content
    assert first.json()["score"] == 4 and first.json()["scale"] == 5
    again = rate(customer, session, {"score": 5})
    assert (again.status_code, again.json()["code"]) == (409, "already_rated")
    shown = customer.get(f"/api/sessions/{session.pk}/").json()["rating"]
    assert (shown["score"], shown["comment"]) == (4, "Quick and kind")
    assert Rating.objects.get(session=session).agent_id == alice.pk  # who served last
    event = SessionEvent.objects.get(session=session, kind="rating.submitted")
    assert event.data == {"score": 4, "scale": 5} and event.agent_id == alice.pk


def test_scores_are_checked_against_the_scale(ended_chat, service_settings):
    session, _, customer = ended_chat
    for bad in (0, 6, -1, "x", None, True, 4.5):
        response = rate(customer, session, {"score": bad})
        assert response.status_code == 400, (bad, response.content)
        assert response.json()["field"] == "score"
    long_comment = rate(customer, session, {"score": 3, "comment": "x" * 1001})
    assert long_comment.status_code == 400 and long_comment.json()["field"] == "comment"
    service_settings.rating_scale = 10
    service_settings.save()
    assert rate(customer, session, {"score": 10}).json()["scale"] == 10


def test_no_rating_before_the_end_without_an_agent_or_after_the_window(
    service_settings, make_agent, make_session, ended_chat
):
    # Not ended yet
    agent = make_agent()
    active, token = make_session()
    offer_accept(session_id=active.pk, agent=agent)
    early = rate(customer_client(token), active, {"score": 5})
    assert (early.status_code, early.json()["code"]) == (409, "rating_closed")
    # Ended before any agent served it
    unserved, token = make_session()
    session_end(session_id=unserved.pk, reason="customer_ended")
    closed = rate(customer_client(token), unserved, {"score": 5})
    assert (closed.status_code, closed.json()["code"]) == (409, "rating_closed")
    # Served, ended, but the window has passed
    session, _, customer = ended_chat
    window = service_settings.rating_window_seconds
    ChatSession.objects.filter(pk=session.pk).update(
        ended_at=timezone.now() - timedelta(seconds=window + 1)
    )
    late = rate(customer, session, {"score": 5})
    assert (late.status_code, late.json()["code"]) == (409, "rating_closed")


def test_ratings_can_be_turned_off(ended_chat, service_settings):
    service_settings.rating_enabled = False
    service_settings.save()
    session, _, customer = ended_chat
    off = rate(customer, session, {"score": 5})
    assert (off.status_code, off.json()["code"]) == (409, "rating_closed")


def test_only_the_customer_rates(ended_chat, staff):
    session, alice, _ = ended_chat
    as_agent = rate(client_for(alice.user), session, {"score": 5})
    assert (as_agent.status_code, as_agent.json()["code"]) == (403, "not_customer")
    assert rate(staff, session, {"score": 5}).status_code == 403
