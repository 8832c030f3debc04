"""Item 8: weak passwords are refused for agents, by REST and in the admin alike."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

WEAK = ["password", "12345678", "Password1", "dana-smith-1"]  # the last: like the username


@pytest.fixture
def staff():
    user = get_user_model().objects.create_user(
        "chief", password="Chief-of-the-desk-42", is_staff=True, is_superuser=True
    )
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize("password", WEAK)
def test_rest_refuses_a_weak_agent_password(staff, password):
    body = {"username": "dana-smith", "password": password, "display_name": "Dana"}
    answer = staff.post("/api/agents/", body, format="json")
    assert answer.status_code == 400, answer.json()
    assert (answer.json()["code"], answer.json()["field"]) == ("weak_password", "password")
    assert not get_user_model().objects.filter(username="dana-smith").exists()


def test_rest_takes_a_strong_one(staff):
    body = {"username": "dana-smith", "password": "correct horse battery", "display_name": "D"}
    assert staff.post("/api/agents/", body, format="json").status_code == 201


@pytest.mark.parametrize("password", WEAK[:3])
def test_the_admin_refuses_a_weak_password_for_a_new_user(client, password):
    get_user_model().objects.create_superuser("root", password="Root-of-the-desk-42")
    client.login(username="root", password="Root-of-the-desk-42")
    form = {"username": "eve", "password1": password, "password2": password}
    answer = client.post("/admin/auth/user/add/", {**form, "usable_password": "true"})
    assert answer.status_code == 200  # the form again, with the validators' messages
    assert not get_user_model().objects.filter(username="eve").exists()
