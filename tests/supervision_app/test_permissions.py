"""Who may do what: anonymous, an agent, a supervisor (the group), staff — over REST, the
pages and the socket, all answered by core/roles.py."""

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token

from sessions_app.actions.create import session_create
from sessions_app.models import ChatSession
from tests.ws.helpers import Client, run

READS = [
    "/api/supervisor/snapshot/",
    "/api/reports/summary/?bucket=day",
    "/api/reports/agents/",
]


@pytest.fixture
def people(service_settings, make_agent, django_user_model):
    agent = make_agent()
    supervisor = django_user_model.objects.create_user("sup-perm", password="pw")
    supervisor.groups.add(Group.objects.get_or_create(name="Supervisors")[0])
    staff = django_user_model.objects.create_user("staff-perm", password="pw", is_staff=True)
    return {"agent": agent.user, "supervisor": supervisor, "staff": staff}


def _token(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Token {Token.objects.get_or_create(user=user)[0].key}"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", READS)
def test_supervision_endpoints_by_role(people, client, path):
    assert client.get(path).status_code == 401
    denied = client.get(path, **_token(people["agent"]))
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
    assert client.get(path, **_token(people["supervisor"])).status_code == 200
    assert client.get(path, **_token(people["staff"])).status_code == 200


@pytest.mark.django_db
def test_supervisor_reads_settings_agents_and_groups_but_cannot_change_them(people, client):
    auth = _token(people["supervisor"])
    for path in ("/api/service-settings/", "/api/agents/", "/api/skill-groups/"):
        assert client.get(path, **auth).status_code == 200, path
    patch = client.patch(
        "/api/service-settings/", {"accept_timeout_seconds": 9}, "application/json", **auth
    )
    assert patch.status_code == 403
    assert "supervisors may look" in patch.json()["detail"]
    created = client.post("/api/skill-groups/", {"name": "Nope"}, "application/json", **auth)
    assert created.status_code == 403
    staff = client.patch(
        "/api/service-settings/",
        {"accept_timeout_seconds": 9},
        "application/json",
        **_token(people["staff"]),
    )
    assert staff.status_code == 200


@pytest.mark.django_db
def test_agents_still_cannot_read_the_settings(people, client):
    assert client.get("/api/service-settings/", **_token(people["agent"])).status_code == 403


@pytest.mark.django_db
def test_supervisor_sees_and_ends_any_chat(people, client):
    session, _ = session_create(customer_name="Watched", message="hello")
    auth = _token(people["supervisor"])
    listed = client.get("/api/sessions/", **auth).json()
    assert str(session.pk) in {s["id"] for s in listed["results"]}
    assert client.get(f"/api/sessions/{session.pk}/messages/", **auth).status_code == 200
    assert client.post(f"/api/sessions/{session.pk}/end/", **auth).status_code == 200
    assert ChatSession.objects.get(pk=session.pk).end_reason == "staff_ended"
    # ... but does not write in it: that is the agent's and the customer's.
    other, _ = session_create(customer_name="Other", message="hi")
    wrote = client.post(
        f"/api/sessions/{other.pk}/messages/", {"body": "hi"}, "application/json", **auth
    )
    assert wrote.status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/supervisor/", "/supervisor/reports/"])
def test_pages_by_role(people, client, path):
    anonymous = client.get(path)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    client.force_login(people["agent"])
    assert client.get(path).status_code == 403
    client.force_login(people["supervisor"])
    assert client.get(path).status_code == 200
    client.force_login(people["staff"])
    assert client.get(path).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_socket_refuses_agents_and_anonymous_with_4403(people):
    async def scenario():
        assert await Client("/ws/supervisor/").refused_code() == 4403
        agent = [(b"authorization", f"Token {_key(people['agent'])}".encode())]
        assert await Client("/ws/supervisor/", agent).refused_code() == 4403

    run(scenario())


def _key(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key
