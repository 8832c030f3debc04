"""REST transfer: who may ask for it, what it answers, and bad input."""

import pytest

from sessions_app.actions.offers import offer_accept
from tests.api.conftest import client_for, customer_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def served(service_settings, make_agent, make_session):
    """Alice serves Maria; Bob is online with room; Maria's token."""
    alice, bob = make_agent(), make_agent()
    session, token = make_session(name="Maria")
    offer_accept(session_id=session.pk, agent=alice)
    return session, alice, bob, token


def test_the_agent_transfers_and_the_target_accepts_over_rest(served):
    session, alice, bob, _ = served
    url = f"/api/sessions/{session.pk}/transfer/"
    response = client_for(alice.user).post(url, {"to_agent": str(bob.pk), "note": "VAT"}, "json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["to_agent"]["id"] == str(bob.pk) and body["note"] == "VAT"
    assert body["countdown_seconds"] == 30 and body["expires_at"]
    # A second one while it stands is a conflict
    again = client_for(alice.user).post(url, {"to_agent": str(bob.pk)}, "json")
    assert (again.status_code, again.json()["code"]) == (409, "transfer_pending")
    accepted = client_for(bob.user).post(f"/api/sessions/{session.pk}/accept/")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["agent"]["id"] == str(bob.pk)


def test_the_target_may_decline_over_rest(served):
    session, alice, bob, _ = served
    client_for(alice.user).post(
        f"/api/sessions/{session.pk}/transfer/", {"to_agent": str(bob.pk)}, "json"
    )
    declined = client_for(bob.user).post(f"/api/sessions/{session.pk}/decline/")
    assert declined.status_code == 200, declined.content
    assert declined.json()["agent"]["id"] == str(alice.pk)


def test_staff_may_transfer_any_active_chat(served, staff):
    session, alice, bob, _ = served
    response = staff.post(
        f"/api/sessions/{session.pk}/transfer/", {"to_agent": str(bob.pk)}, "json"
    )
    assert response.status_code == 202, response.content


def test_customers_and_other_agents_may_not(served, make_agent):
    session, alice, bob, token = served
    url = f"/api/sessions/{session.pk}/transfer/"
    as_customer = customer_client(token).post(url, {"to_agent": str(bob.pk)}, "json")
    assert (as_customer.status_code, as_customer.json()["code"]) == (403, "not_an_agent")
    stranger = client_for(make_agent().user).post(url, {"to_agent": str(bob.pk)}, "json")
    assert stranger.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "to_agent"),
        ({"to_agent": "1", "to_group": "1"}, "to_agent"),
        ({"to_agent": "x"}, "to_agent"),
        ({"to_group": "999999"}, "to_group"),
        ({"to_agent": "1", "note": "x" * 501}, "note"),
        ({"to_agent": "1", "note": 5}, "note"),
        ({"to_agent": "1", "surprise": True}, "surprise"),
    ],
)
def test_bad_transfers_answer_400_naming_the_field(served, body, field):
    session, alice, _, _ = served
    response = client_for(alice.user).post(f"/api/sessions/{session.pk}/transfer/", body, "json")
    assert response.status_code == 400, response.content
    assert response.json().get("field") == field, response.json()
