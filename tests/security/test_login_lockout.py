"""Item 1: password guessing is stopped per account and per address on every way in."""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "Right-horse-battery-9"
LIMIT = 3


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT


@pytest.fixture
def user():
    return get_user_model().objects.create_user("sam", password=PASSWORD, is_staff=True)


def form_login(path: str, password: str, address: str = "10.0.0.1", username: str = "sam"):
    client = Client(REMOTE_ADDR=address)
    answer = client.post(path, {"username": username, "password": password})
    return answer, client


def token_login(password: str, address: str = "10.0.0.1", username: str = "sam"):
    client = Client(REMOTE_ADDR=address)
    body = {"username": username, "password": password}
    return client.post("/api/auth/token/", body, content_type="application/json")


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_the_forms_lock_an_account_after_the_limit_even_for_the_right_password(user, path):
    for _ in range(LIMIT):
        form_login(path, "wrong")
    answer, client = form_login(path, PASSWORD)
    assert answer.status_code == 429
    assert int(answer["Retry-After"]) > 0
    assert "Too many failed logins" in answer.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_token_endpoint_locks_the_account_whatever_address_asks(user):
    for n in range(LIMIT):
        token_login("wrong", address=f"10.0.1.{n}")
    answer = token_login(PASSWORD, address="10.0.9.9")  # a fresh address: still locked
    assert answer.status_code == 429
    assert answer.json()["code"] == "locked_out" and int(answer["Retry-After"]) > 0


def test_one_address_guessing_many_accounts_is_locked_out_too(user):
    for n in range(LIMIT):
        token_login("wrong", address="10.0.2.2", username=f"nobody{n}")
    assert token_login(PASSWORD, address="10.0.2.2").status_code == 429
    assert token_login(PASSWORD, address="10.0.3.3").status_code == 200  # sam is not locked


def test_staff_unlock_by_deleting_the_attempts_in_admin(user):
    for _ in range(LIMIT):
        token_login("wrong")
    assert token_login(PASSWORD).status_code == 429
    admin = get_user_model().objects.create_superuser("root", password="Root-of-the-desk-42")
    staff = Client(REMOTE_ADDR="10.9.9.9")
    staff.force_login(admin)
    attempts = list(AccessAttempt.objects.values_list("pk", flat=True))
    answer = staff.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )
    assert answer.status_code == 302
    assert token_login(PASSWORD).status_code == 200
