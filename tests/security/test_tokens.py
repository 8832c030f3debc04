"""Item 7: an API token ends with a password change, on logout, and (if set) with age."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.ws.helpers import Client, run

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Tall-ships-and-tides-7"


def token_of(username: str, password: str = PASSWORD) -> str:
    answer = APIClient().post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )
    assert answer.status_code == 200, answer.json()
    return answer.json()["token"]


def me(token: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get("/api/agents/me/").status_code


async def _connect(token: str):
    ws = Client("/ws/agent/", headers=[(b"authorization", f"Token {token}".encode())])
    connected, code = await ws.comm.connect(timeout=10)
    if connected:
        out = await ws.comm.receive_output(timeout=5)
        await ws.comm.disconnect()
        return out.get("type") == "websocket.send", code
    return False, code


@pytest.fixture
def agent(make_agent):
    found = make_agent()
    found.user.set_password(PASSWORD)
    found.user.save()
    return found


def test_a_password_change_ends_the_old_token(agent):
    old = token_of(agent.user.username)
    assert me(old) == 200
    user = get_user_model().objects.get(pk=agent.user.pk)
    user.set_password("A-whole-new-secret-9")
    user.save()
    assert me(old) == 401
    assert not _connect_ok(old)
    new = token_of(agent.user.username, "A-whole-new-secret-9")
    assert new != old and me(new) == 200


def _connect_ok(token: str) -> bool:
    return run(_connect(token))[0]


def test_logout_ends_the_token(agent):
    token = token_of(agent.user.username)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post("/api/auth/logout/").status_code == 204
    assert me(token) == 401
    assert not Token.objects.filter(user=agent.user).exists()


def test_tokens_expire_after_their_lifetime_when_one_is_set(agent, settings):
    settings.API_TOKEN_TTL_HOURS = 2
    token = token_of(agent.user.username)
    assert me(token) == 200 and _connect_ok(token)
    Token.objects.filter(key=token).update(created=timezone.now() - timedelta(hours=3))
    assert me(token) == 401
    assert not _connect_ok(token)
    fresh = token_of(agent.user.username)  # a login after expiry gets a new one
    assert fresh != token and me(fresh) == 200


def test_staff_set_an_agents_password_over_rest_which_ends_its_token(agent, make_agent):
    # Given an agent logged in over the API, and staff with a token of their own
    old = token_of(agent.user.username)
    boss = make_agent()
    boss.user.is_staff = True
    boss.user.set_password(PASSWORD)
    boss.user.save()
    staff = APIClient()
    staff.credentials(HTTP_AUTHORIZATION=f"Token {token_of(boss.user.username)}")
    path = f"/api/agents/{agent.pk}/"
    # When staff give it a weak password, it is refused and the old one still works
    weak = staff.patch(path, {"password": "password"}, format="json")
    assert weak.status_code == 400
    assert weak.json()["field"] == "password" and weak.json()["code"] == "weak_password"
    assert me(old) == 200
    # When staff give it a good one, the old token ends and the new password logs in
    good = staff.patch(path, {"password": "Brand-new-lighthouse-4"}, format="json")
    assert good.status_code == 200
    assert me(old) == 401
    assert me(token_of(agent.user.username, "Brand-new-lighthouse-4")) == 200
