"""Working hours across daylight saving and holidays, the public status, the closed desk's 409,
and the offline messages customers leave instead."""

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from agents_app.actions.settings import service_settings_update
from core.hours import Hours
from sessions_app.models import ChatSession, OfflineMessage

from .conftest import client_for, customer_client

pytestmark = pytest.mark.django_db

BERLIN_WEEK = [{"weekday": d, "start": "09:00", "end": "18:00"} for d in range(7)]


def berlin(**changes) -> Hours:
    values = {
        "working_hours_enabled": True,
        "timezone": "Europe/Berlin",
        "working_hours": BERLIN_WEEK,
        "holidays": ["2026-12-25"],
        **changes,
    }
    return Hours.of(type("Cfg", (), values))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_hours_are_local_on_both_sides_of_the_spring_change():
    hours = berlin()
    # Saturday 28 March 2026, CET (UTC+1): 09:00 local is 08:00 UTC
    assert not hours.is_open(utc(2026, 3, 28, 7, 59))
    assert hours.is_open(utc(2026, 3, 28, 8, 0))
    assert hours.is_open(utc(2026, 3, 28, 16, 59)) and not hours.is_open(utc(2026, 3, 28, 17, 0))
    # Sunday 29 March 2026, the last Sunday of March: CEST (UTC+2) from 01:00 UTC on.
    # 09:00 local is now 07:00 UTC; a fixed offset would open an hour late and close late.
    assert not hours.is_open(utc(2026, 3, 29, 6, 59))
    assert hours.is_open(utc(2026, 3, 29, 7, 0))
    assert hours.is_open(utc(2026, 3, 29, 15, 59)) and not hours.is_open(utc(2026, 3, 29, 16, 0))


def test_hours_are_local_across_the_autumn_change():
    hours = berlin()
    # Sunday 25 October 2026: back to CET at 01:00 UTC; 09:00 local is 08:00 UTC again
    assert not hours.is_open(utc(2026, 10, 25, 7, 30))
    assert hours.is_open(utc(2026, 10, 25, 8, 0))
    # The day before, CEST: 09:00 local is 07:00 UTC
    assert hours.is_open(utc(2026, 10, 24, 7, 0))


def test_a_holiday_is_closed_and_the_next_opening_skips_it():
    hours = berlin()
    christmas_noon = utc(2026, 12, 25, 11, 0)  # 12:00 CET
    assert not hours.is_open(christmas_noon)
    assert hours.next_open_at(christmas_noon) == utc(2026, 12, 26, 8, 0)  # 09:00 CET
    # The evening before: the next opening is also the 26th
    assert hours.next_open_at(utc(2026, 12, 24, 19, 0)) == utc(2026, 12, 26, 8, 0)


def test_the_next_opening_across_the_spring_change():
    hours = berlin()
    saturday_evening = utc(2026, 3, 28, 20, 0)  # 21:00 CET
    assert hours.next_open_at(saturday_evening) == utc(2026, 3, 29, 7, 0)  # 09:00 CEST


def test_periods_may_end_at_midnight_and_hours_off_mean_always_open():
    late = berlin(working_hours=[{"weekday": 4, "start": "20:00", "end": "24:00"}])
    friday = utc(2026, 12, 4, 22, 59)  # 23:59 CET, a Friday
    assert late.is_open(friday) and not late.is_open(utc(2026, 12, 4, 23, 0))
    assert berlin(working_hours_enabled=False).is_open(utc(2026, 12, 25, 3, 0))
    assert berlin(working_hours_enabled=False).next_open_at(utc(2026, 12, 25, 3, 0)) is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"working_hours": [{"weekday": 7, "start": "09:00", "end": "17:00"}]}, "working_hours"),
        ({"working_hours": [{"weekday": 0, "start": "9:00", "end": "17:00"}]}, "working_hours"),
        ({"working_hours": [{"weekday": 0, "start": "17:00", "end": "09:00"}]}, "working_hours"),
        (
            {
                "working_hours": [
                    {"weekday": 0, "start": "09:00", "end": "13:00"},
                    {"weekday": 0, "start": "12:00", "end": "17:00"},
                ]
            },
            "working_hours",
        ),
        ({"working_hours": {"monday": "9-5"}}, "working_hours"),
        ({"holidays": ["25/12/2026"]}, "holidays"),
    ],
)
def test_a_broken_schedule_is_refused_with_the_field_named(
    staff_user, service_settings, changes, field
):
    response = client_for(staff_user).patch("/api/service-settings/", changes, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field


def test_staff_set_the_hours_over_rest(staff_user, service_settings):
    changes = {
        "working_hours_enabled": True,
        "timezone": "Europe/Berlin",
        "working_hours": BERLIN_WEEK[:5],
        "holidays": ["2026-12-26", "2026-12-25"],
    }
    response = client_for(staff_user).patch("/api/service-settings/", changes, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["holidays"] == ["2026-12-25", "2026-12-26"]
    assert response.json()["working_hours"][0] == {"weekday": 0, "start": "09:00", "end": "18:00"}


def closed(service_settings):
    """Working hours on with no period at all: closed now, whenever now is."""
    service_settings_update(working_hours_enabled=True, timezone="UTC", working_hours=[])


def test_outside_hours_no_chat_opens_and_the_customer_reads_the_offline_notice(
    service_settings,
):
    closed(service_settings)
    service_settings_update(offline_notice="Closed until Monday. Leave us a note.")
    before = ChatSession.objects.count()
    response = APIClient().post(
        "/api/sessions/", {"customer_name": "Ann", "message": "Hi"}, format="json"
    )
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Closed until Monday. Leave us a note.",
        "code": "outside_working_hours",
    }
    assert ChatSession.objects.count() == before
    status = APIClient().get("/api/public/status/").json()
    assert status["open"] is False and status["next_open_at"] is None
    assert status["offline_notice"] == "Closed until Monday. Leave us a note."


def test_the_status_says_open_and_when_it_opens_next(service_settings):
    assert APIClient().get("/api/public/status/").json()["open"] is True
    now = datetime.now(UTC)
    tomorrow = (now.weekday() + 1) % 7
    service_settings_update(
        working_hours_enabled=True,
        timezone="UTC",
        working_hours=[{"weekday": tomorrow, "start": "10:00", "end": "11:00"}],
    )
    status = APIClient().get("/api/public/status/").json()
    assert status["open"] is False
    opens = datetime.fromisoformat(status["next_open_at"].replace("Z", "+00:00"))
    assert opens.weekday() == tomorrow and (opens.hour, opens.minute) == (10, 0)
    assert 0 < (opens - now).total_seconds() < 2 * 86400


def test_a_customer_leaves_a_message_and_staff_read_and_handle_it(
    staff_user, make_agent, service_settings
):
    closed(service_settings)
    body = {"customer_name": "Ann", "email": "ann@example.com", "message": "Call me back"}
    left = APIClient().post("/api/offline-messages/", body, format="json")
    assert left.status_code == 201, left.content
    found = left.json()
    assert (found["customer_name"], found["handled"], found["session_id"]) == ("Ann", False, None)
    staff = client_for(staff_user)
    listed = staff.get("/api/offline-messages/?handled=false").json()["results"]
    assert [m["message"] for m in listed if m["id"] == found["id"]] == ["Call me back"]
    done = staff.patch(f"/api/offline-messages/{found['id']}/", {"handled": True}, format="json")
    assert done.status_code == 200 and done.json()["handled"] is True
    row = OfflineMessage.objects.get(pk=found["id"])
    assert row.handled_by == staff_user and row.handled_at is not None
    assert found["id"] not in [
        m["id"] for m in staff.get("/api/offline-messages/?handled=false").json()["results"]
    ]
    # Agents and anonymous callers cannot read them
    agent = make_agent()
    assert client_for(agent.user).get("/api/offline-messages/").status_code == 403
    assert APIClient().get("/api/offline-messages/").status_code == 401
    assert (
        staff.patch(
            "/api/offline-messages/999999999/", {"handled": True}, format="json"
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"customer_name": "", "email": "a@example.com", "message": "x"}, "customer_name"),
        ({"customer_name": "Ann", "email": "not-an-address", "message": "x"}, "email"),
        ({"customer_name": "Ann", "email": "", "message": "x"}, "email"),
        ({"customer_name": "Ann", "email": "a@example.com", "message": "  "}, "message"),
        ({"customer_name": "Ann", "email": "a@example.com", "message": "x" * 4001}, "message"),
    ],
)
def test_a_bad_offline_message_is_refused_with_the_field_named(service_settings, body, field):
    before = OfflineMessage.objects.count()
    response = APIClient().post("/api/offline-messages/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert OfflineMessage.objects.count() == before


def test_offline_messages_are_throttled_per_address(service_settings, settings):
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = dict(rest["DEFAULT_THROTTLE_RATES"], offline_message="2/hour")
    settings.REST_FRAMEWORK = rest
    body = {"customer_name": "Ann", "email": "ann@example.com", "message": "Hi"}
    client = APIClient(REMOTE_ADDR=f"10.8.{secrets.randbelow(250)}.{secrets.randbelow(250)}")
    codes = [
        client.post("/api/offline-messages/", body, format="json").status_code for _ in range(3)
    ]
    assert codes == [201, 201, 429]
    assert OfflineMessage.objects.filter(customer_name="Ann", message="Hi").count() >= 2


def test_a_message_after_a_queue_timeout_is_tied_to_that_chat(service_settings):
    from django.utils import timezone

    from sessions_app.actions.create import session_create
    from sessions_app.actions.sweep import timers_resolve_due

    service_settings_update(queue_timeout_seconds=60)
    session, token = session_create(customer_name="Ann", message="Anyone?")
    past = timezone.now() - timedelta(seconds=1)
    ChatSession.objects.filter(pk=session.pk).update(queue_deadline=past)  # as 61 s later
    timers_resolve_due()
    assert ChatSession.objects.get(pk=session.pk).end_reason == "queue_timeout"
    body = {
        "customer_name": "Ann",
        "email": "ann@example.com",
        "message": "Nobody came",
        "session_id": str(session.pk),
    }
    left = customer_client(token).post("/api/offline-messages/", body, format="json")
    assert left.status_code == 201 and left.json()["session_id"] == str(session.pk)
    # Someone else's chat id is not linked
    forged = APIClient().post("/api/offline-messages/", body, format="json")
    assert forged.status_code == 201 and forged.json()["session_id"] is None
