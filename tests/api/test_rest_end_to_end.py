"""A whole conversation driven over REST only, against daphne, a Celery worker and beat."""

import secrets

import httpx
import pytest

from tests.conftest import unique, wait_until

NOTICE = "We closed this chat because we did not hear back. Write again any time."


class Api:
    """A REST client for one caller; fails loudly on an unexpected status."""

    def __init__(self, base: str, **headers: str):
        self.http = httpx.Client(base_url=base, headers=headers, timeout=10, trust_env=False)

    def call(self, method: str, path: str, expect: int = 200, **body):
        response = self.http.request(method, path, json=body or None)
        assert response.status_code == expect, (method, path, response.status_code, response.text)
        return response.json()


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_rest_only_conversation_from_agents_to_idle_end(
    live_server_url, celery_worker, celery_beat, staff_user
):
    anonymous = Api(live_server_url)
    token = anonymous.call(
        "POST",
        "/api/auth/token/",
        username=staff_user.username,
        password="pw-" + staff_user.username,
    )["token"]
    staff = Api(live_server_url, Authorization=f"Token {token}")

    # Given staff who creates two agents and sets manual mode with a 2 s accept timeout
    agents = {}
    for label in ("first", "second"):
        username, password = unique(f"rest_{label}_"), "Quiet harbour " + secrets.token_hex(6)
        created = staff.call("POST", "/api/agents/", 201, username=username, password=password)
        assert created["status"] == "offline"
        key = anonymous.call("POST", "/api/auth/token/", username=username, password=password)
        agents[created["id"]] = Api(live_server_url, Authorization=f"Token {key['token']}")
    settings = staff.call(
        "PATCH",
        "/api/service-settings/",
        service_mode="manual",
        accept_timeout_seconds=2,
        customer_idle_timeout_seconds=2,
        idle_end_notice=NOTICE,
        welcome_notice="Hello {customer}, welcome.",
        agent_joined_notice="{agent} is here.",
        queue_notice="",
    )
    assert settings["accept_timeout_seconds"] == 2
    for agent in agents.values():
        assert agent.call("PATCH", "/api/agents/me/", status="online")["status"] == "online"

    # When a customer opens a chat
    opened = anonymous.call(
        "POST", "/api/sessions/", 201, customer_name="Rita", message="My parcel is late"
    )
    session_id = opened["id"]
    customer = Api(live_server_url, **{"X-Customer-Token": opened["customer_token"]})
    assert opened["state"] == "offered"
    first_id = opened["offer"]["agent_id"]
    second_id = next(agent_id for agent_id in agents if agent_id != first_id)

    # Then nobody accepts, and after 2 s the offer moves to the second agent
    def offered_to_second():
        session = staff.call("GET", f"/api/sessions/{session_id}/")
        return session.get("offer", {}).get("agent_id") == second_id and session

    moved = wait_until(offered_to_second, timeout=10, interval=0.2)
    assert moved["state"] == "offered"
    late = agents[first_id].http.post(f"/api/sessions/{session_id}/accept/")
    assert late.status_code == 409, late.text  # the first agent's chance is gone

    # When the second agent accepts over REST
    accepted = agents[second_id].call("POST", f"/api/sessions/{session_id}/accept/")
    assert accepted["state"] == "active" and accepted["agent"]["id"] == second_id
    assert customer.call("GET", f"/api/sessions/{session_id}/")["state"] == "active"

    # Then messages go both ways over REST
    url = f"/api/sessions/{session_id}/messages/"
    assert customer.call("POST", url, 201, body="Any news?")["sender"] == "customer"
    assert agents[second_id].call("POST", url, 201, body="It ships today.")["sender"] == "agent"
    seen_by_agent = [m["body"] for m in agents[second_id].call("GET", url)]
    second_name = staff.call("GET", f"/api/agents/{second_id}/")["display_name"]
    assert seen_by_agent == [
        "My parcel is late",
        "Hello Rita, welcome.",
        f"{second_name} is here.",
        "Any news?",
        "It ships today.",
    ]

    # When the customer stays silent past the idle timeout
    def ended():
        session = customer.call("GET", f"/api/sessions/{session_id}/")
        return session["state"] == "ended" and session

    finished = wait_until(ended, timeout=12, interval=0.2)

    # Then the system ended it for idleness and the customer's messages end with the reminder
    assert finished["end_reason"] == "customer_idle_timeout"
    messages = customer.call("GET", url)
    senders = [m["sender"] for m in messages]
    assert senders == ["customer", "system", "system", "customer", "agent", "system"]
    assert messages[-1]["body"] == NOTICE
    refused = customer.http.post(url, json={"body": "Hello?"})
    assert refused.status_code == 409 and refused.json()["code"] == "session_ended"
    for agent in agents.values():
        agent.call("PATCH", "/api/agents/me/", status="offline")
