"""Customer context: email and attributes, transcripts, search, a returning customer's chats."""

import pytest
from django.db import connection

from agents_app.actions.status import agent_set_status
from agents_app.models import Agent
from sessions_app.actions.create import session_create
from sessions_app.actions.end import session_end
from sessions_app.actions.messages import message_send
from sessions_app.actions.offers import offer_accept
from tests.api.conftest import client_for, customer_client

pytestmark = pytest.mark.django_db


def rows(response) -> list[dict]:
    data = response.json()
    return data["results"] if isinstance(data, dict) else data


def test_email_and_attributes_are_kept_and_checked(service_settings, anon):
    body = {
        "customer_name": "Maria",
        "email": "Maria@Example.COM",
        "attributes": {"plan": "gold", "orders": 3, "vip": True},
    }
    created = anon.post("/api/sessions/", body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["email"] == "Maria@example.com"
    assert data["attributes"] == {"plan": "gold", "orders": 3, "vip": True}
    bad = [
        ({"email": "not-an-address"}, "email"),
        ({"attributes": ["a"]}, "attributes"),
        ({"attributes": {f"k{i}": i for i in range(21)}}, "attributes"),
        ({"attributes": {"nested": {"a": 1}}}, "attributes"),
        ({"attributes": {"long": "x" * 201}}, "attributes"),
    ]
    for extra, field in bad:
        response = anon.post("/api/sessions/", {"customer_name": "M", **extra}, format="json")
        assert response.status_code == 400, (extra, response.content)
        assert response.json()["field"] == field


def served(alice, name="Maria", email="", message="My parcel is late"):
    """A chat that `alice` serves: every other online agent steps away while it is routed."""
    others = list(Agent.objects.filter(status="online").exclude(pk=alice.pk))
    for other in others:
        agent_set_status(agent_id=other.pk, status="away")
    session, token = session_create(customer_name=name, message=message, email=email)
    offer_accept(session_id=session.pk, agent=alice)
    for other in others:
        agent_set_status(agent_id=other.pk, status="online")
    return session, token


def test_the_transcript_is_text_by_default_and_json_on_request(service_settings, make_agent):
    alice = make_agent()
    session, token = served(alice, email="maria@example.com")
    message_send(session_id=session.pk, sender="agent", body="On its way", agent=alice)
    url = f"/api/sessions/{session.pk}/transcript/"
    text = client_for(alice.user).get(url)
    assert text.status_code == 200 and text["Content-Type"].startswith("text/plain")
    content = text.content.decode()
    assert "Chat with Maria <maria@example.com>" in content
    assert "Maria: My parcel is late" in content and "Agent: On its way" in content
    as_json = customer_client(token).get(url, HTTP_ACCEPT="application/json")
    assert as_json.status_code == 200
    assert [m["body"] for m in as_json.json()["messages"]] == ["My parcel is late", "On its way"]
    stranger = client_for(make_agent().user).get(url)
    assert stranger.status_code == 404 and stranger.json()["code"] == "not_found"


def test_search_finds_names_emails_and_words_in_messages(service_settings, make_agent, staff):
    alice, bob = make_agent(), make_agent()
    parcel, _ = served(alice, name="Maria", message="My parcel never arrived")
    invoice, _ = served(alice, name="Jonas", email="jonas@shop.example", message="Invoice 42")
    theirs, _ = served(bob, name="Parcel Person", message="hello")

    def found(client, q):
        return {r["id"] for r in rows(client.get("/api/sessions/", {"q": q}))}

    me = client_for(alice.user)
    assert found(me, "parcel") == {str(parcel.pk)}  # a word in a message; Bob's is not mine
    assert found(me, "jonas@shop") == {str(invoice.pk)}  # an email
    assert found(me, "never arrived") == {str(parcel.pk)}
    assert found(me, "nothing-like-this") == set()
    assert found(staff, "parcel") == {str(parcel.pk), str(theirs.pk)}  # staff: every chat


def test_message_search_uses_its_index(service_settings):
    if connection.vendor != "postgresql":
        pytest.skip("full-text search is PostgreSQL's")
    from sessions_app import selectors
    from sessions_app.models import ChatSession

    query = selectors.sessions_matching(ChatSession.objects.all(), "parcel")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        sql, params = query.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert "message_body_search" in plan, plan


def test_an_agent_serving_a_returning_customer_sees_their_earlier_chats(
    service_settings, make_agent
):
    alice, bob = make_agent(), make_agent()
    # Bob served Maria last week
    earlier, _ = served(bob, email="maria@example.com", message="Last week's question")
    session_end(session_id=earlier.pk, reason="agent_ended", agent=bob)
    # Today Alice serves her
    today, _ = served(alice, email="MARIA@example.com", message="Again me")
    me = client_for(alice.user)
    listed = rows(me.get("/api/sessions/", {"email": "maria@example.com"}))
    assert {r["id"] for r in listed} == {str(earlier.pk), str(today.pk)}
    transcript = me.get(f"/api/sessions/{earlier.pk}/transcript/")
    assert transcript.status_code == 200 and "Last week's question" in transcript.content.decode()
    # Once she no longer serves Maria, only her own chats
    session_end(session_id=today.pk, reason="agent_ended", agent=alice)
    listed = rows(me.get("/api/sessions/", {"email": "maria@example.com"}))
    assert {r["id"] for r in listed} == {str(today.pk)}
    assert me.get(f"/api/sessions/{earlier.pk}/transcript/").status_code == 404
