"""Who may call what: every REST endpoint against every kind of caller, from one table."""

import uuid

import pytest

from tests.api.conftest import client_for, customer_client
from tests.conftest import unique

ROLES = ("anonymous", "customer", "other_customer", "holder", "other_agent", "staff")

# method, path, body (a function of the world, or None), then one expected status per role.
# "customer"/"holder" are this session's customer and agent; "other_*" belong to another
# session; staff has no agent profile. Unknown or someone else's session: 404, never 403.
MATRIX = [
    ("POST", "/api/auth/token/", lambda w: w["staff_login"], 200, 200, 200, 200, 200, 200),
    ("GET", "/healthz", None, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/service-settings/", None, 401, 401, 401, 403, 403, 200),
    (
        "PATCH",
        "/api/service-settings/",
        lambda w: {"accept_timeout_seconds": 45},
        401,
        401,
        401,
        403,
        403,
        200,
    ),
    ("GET", "/api/agents/", None, 401, 401, 401, 403, 403, 200),
    (
        "POST",
        "/api/agents/",
        lambda w: {"username": unique("new"), "password": "pw-long-enough"},
        401,
        401,
        401,
        403,
        403,
        201,
    ),
    ("GET", "/api/agents/{holder}/", None, 401, 401, 401, 403, 403, 200),
    (
        "PATCH",
        "/api/agents/{other}/",
        lambda w: {"display_name": "Renamed"},
        401,
        401,
        401,
        403,
        403,
        200,
    ),
    ("GET", "/api/agents/me/", None, 401, 401, 401, 200, 200, 403),
    ("PATCH", "/api/agents/me/", lambda w: {"display_name": "Me"}, 401, 401, 401, 200, 200, 403),
    (
        "POST",
        "/api/sessions/",
        lambda w: {"customer_name": "Newcomer"},
        201,
        201,
        201,
        201,
        201,
        201,
    ),
    ("GET", "/api/sessions/", None, 401, 401, 401, 200, 200, 200),
    ("GET", "/api/sessions/{S}/", None, 401, 200, 404, 200, 404, 200),
    ("GET", "/api/sessions/{unknown}/", None, 401, 404, 404, 404, 404, 404),
    ("GET", "/api/sessions/{S}/messages/", None, 401, 200, 404, 200, 404, 200),
    (
        "POST",
        "/api/sessions/{S}/messages/",
        lambda w: {"body": "Hi there"},
        401,
        201,
        404,
        201,
        404,
        403,
    ),
    ("POST", "/api/sessions/{S}/accept/", None, 401, 403, 404, 409, 404, 403),
    ("POST", "/api/sessions/{S}/end/", None, 401, 200, 404, 200, 404, 200),
]

CASES = [
    pytest.param(method, path, body, role, expected[i], id=f"{method} {path} as {role}")
    for method, path, body, *expected in MATRIX
    for i, role in enumerate(ROLES)
]


@pytest.fixture
def world(service_settings, make_agent, make_session, staff_user):
    """Auto mode: session S is active with `holder`, session T with `other`."""
    service_settings.service_mode = "auto"
    service_settings.save()
    holder = make_agent(name="holder")
    s_session, s_token = make_session(name="Sam", message="Hello")
    other = make_agent(name="other")
    t_session, t_token = make_session(name="Tia", message="Hi")
    assert s_session.agent_id == holder.pk and t_session.agent_id == other.pk
    return {
        "ids": {"S": s_session.pk, "holder": holder.pk, "other": other.pk, "unknown": uuid.uuid4()},
        "staff_login": {"username": staff_user.username, "password": "pw-" + staff_user.username},
        "clients": {
            "anonymous": lambda: __import__("rest_framework.test").test.APIClient(),
            "customer": lambda: customer_client(s_token),
            "other_customer": lambda: customer_client(t_token),
            "holder": lambda: client_for(holder.user),
            "other_agent": lambda: client_for(other.user),
            "staff": lambda: client_for(staff_user),
        },
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "body", "role", "expected"), CASES)
def test_endpoint_answers_each_caller_with_the_expected_status(
    world, method, path, body, role, expected
):
    # Given a desk with two active sessions and a caller of one kind
    client = world["clients"][role]()
    # When the caller hits the endpoint
    response = client.generic(
        method,
        path.format(**world["ids"]),
        data=None if body is None else __import__("json").dumps(body(world)),
        content_type="application/json",
    )
    # Then the status is the one the table promises, and any error has the error shape
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert {"detail", "code"} <= set(response.json()), response.content
