"""Bad input gets a 400 that says what is wrong and, where one field is to blame, which."""

import pytest

from tests.api.conftest import client_for, customer_client


@pytest.fixture
def chat(make_session):
    session, token = make_session(message="Hello")
    return session, customer_client(token)


def post_json(client, path, raw: str):
    return client.generic("POST", path, data=raw, content_type="application/json")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("", "blank"),
        ("   \n\t ", "blank"),
        ("x" * 4001, "max_length"),
        (None, "null"),
        (42, "invalid"),
    ],
    ids=["empty", "whitespace", "4001-chars", "null", "number"],
)
def test_customer_message_with_a_bad_body_is_refused_and_names_the_field(chat, body, code):
    # Given a customer in an open chat
    session, customer = chat
    # When they send a message with a bad body
    response = customer.post(f"/api/sessions/{session.pk}/messages/", {"body": body}, format="json")
    # Then it is a 400 naming the body field, and nothing was stored
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["field"] == "body" and data["code"] == code and data["detail"]
    assert session.messages.count() == 1


@pytest.mark.django_db
def test_message_of_exactly_4000_characters_after_trimming_is_accepted(chat):
    session, customer = chat
    response = customer.post(
        f"/api/sessions/{session.pk}/messages/", {"body": "  " + "y" * 4000 + "  "}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["body"] == "y" * 4000


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/sessions/", {"customer_name": "Ann", "priority": "high"}, "priority"),
        ("/api/service-settings/", {"service_mode": "auto", "colour": "red"}, "colour"),
        ("/api/agents/", {"username": "zed", "password": "pw-long-enough", "admin": True}, "admin"),
    ],
)
def test_unknown_field_is_refused_with_its_name(staff, path, body, field):
    method = staff.patch if "settings" in path else staff.post
    response = method(path, body, format="json")
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["code"] == "unknown_field" and data["field"] == field
    assert field in data["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"accept_timeout_seconds": 0}, "accept_timeout_seconds"),
        ({"accept_timeout_seconds": 3601}, "accept_timeout_seconds"),
        ({"customer_idle_timeout_seconds": 604801}, "customer_idle_timeout_seconds"),
        ({"default_max_sessions": 101}, "default_max_sessions"),
        ({"idle_end_notice": ""}, "idle_end_notice"),
        ({"idle_end_notice": "n" * 1001}, "idle_end_notice"),
        ({"service_mode": "turbo"}, "service_mode"),
        ({"accept_timeout_seconds": "soon"}, "accept_timeout_seconds"),
    ],
)
def test_out_of_range_setting_is_refused_and_settings_stay_unchanged(
    staff, service_settings, change, field
):
    before = staff.get("/api/service-settings/").json()
    response = staff.patch("/api/service-settings/", change, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert staff.get("/api/service-settings/").json() == before


@pytest.mark.django_db
def test_settings_change_within_range_is_applied(staff, service_settings):
    response = staff.patch(
        "/api/service-settings/",
        {"service_mode": "auto", "accept_timeout_seconds": 3600, "default_max_sessions": 1},
        format="json",
    )
    assert response.status_code == 200, response.content
    got = staff.get("/api/service-settings/").json()
    assert got["service_mode"] == "auto" and got["accept_timeout_seconds"] == 3600
    assert got["default_max_sessions"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["busy", "", None, "ONLINE"])
def test_bad_agent_status_is_refused(make_agent, status):
    agent = make_agent(status="offline")
    response = client_for(agent.user).patch("/api/agents/me/", {"status": status}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["field"] == "status"
    agent.refresh_from_db()
    assert agent.status == "offline"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw", ['{"customer_name": "Ann"', "not json", '["customer_name"]', "null", '{"a":}']
)
def test_malformed_json_is_a_400_with_detail(anon, raw):
    response = post_json(anon, "/api/sessions/", raw)
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["detail"] and data["code"] in {"parse_error", "invalid", "null"}


@pytest.mark.django_db
def test_missing_customer_name_names_the_field(anon):
    response = anon.post("/api/sessions/", {"message": "hi"}, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "customer_name"
    assert response.json()["code"] == "required"


@pytest.mark.django_db
def test_bad_state_filter_is_refused(staff):
    response = staff.get("/api/sessions/?state=sleeping")
    assert response.status_code == 400
    assert response.json()["field"] == "state"


@pytest.mark.django_db
def test_agent_with_short_password_is_refused(staff):
    response = staff.post("/api/agents/", {"username": "shorty", "password": "abc"}, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "password"


@pytest.mark.django_db
def test_taken_username_is_a_conflict(staff, make_agent):
    agent = make_agent()
    response = staff.post(
        "/api/agents/",
        {"username": agent.user.username, "password": "pw-long-enough"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "username_taken"


@pytest.mark.django_db
def test_form_encoded_body_is_unsupported_media_type(anon):
    response = anon.post("/api/sessions/", "customer_name=Ann", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/agents/abc/", "/api/agents/99999999999999999999999/", "/api/nowhere/"]
)
def test_malformed_or_unknown_ids_and_paths_are_json_404s(staff, path):
    response = staff.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_malformed_session_id_is_a_404_for_a_customer(chat):
    _, customer = chat
    response = customer.get("/api/sessions/not-a-uuid/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_a_post_to_an_unknown_path_is_a_json_404_not_a_csrf_page():
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)  # as a browser with a session would post
    response = browser.post("/api/nowhere/", {"x": 1}, content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
