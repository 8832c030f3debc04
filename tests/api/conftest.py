"""Fixtures for the REST API tests: clients for each kind of caller."""

import pytest
from rest_framework.test import APIClient

from tests.conftest import unique


@pytest.fixture(autouse=True)
def _generous_throttles(settings):
    """Most tests create many sessions from one address; throttle tests set their own rates."""
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {
        "session_create": "100000/minute",
        "customer_message": "100000/minute",
        "auth_token": "100000/minute",
    }
    settings.REST_FRAMEWORK = rest


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def staff_user(db):
    from django.contrib.auth import get_user_model

    name = unique("staff")
    return get_user_model().objects.create_user(name, password="pw-" + name, is_staff=True)


def client_for(user) -> APIClient:
    from core.api import auth_token_issue

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {auth_token_issue(user=user)}")
    return client


def customer_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_CUSTOMER_TOKEN=token)
    return client


@pytest.fixture
def staff(staff_user):
    return client_for(staff_user)
