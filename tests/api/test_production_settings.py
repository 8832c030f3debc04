"""Production settings, checked in a fresh interpreter the way an operator would start the app."""

import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = secrets.token_urlsafe(50)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run manage.py with the real settings module and only the environment given here."""
    base = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "contactcenter.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({}, "SECRET_KEY"),
        ({"SECRET_KEY": "dev-only-insecure-key-change-me", "ALLOWED_HOSTS": "x.org"}, "SECRET_KEY"),
        ({"SECRET_KEY": "short", "ALLOWED_HOSTS": "x.org"}, "SECRET_KEY"),
        ({"SECRET_KEY": GOOD_KEY}, "ALLOWED_HOSTS"),
    ],
    ids=["no-key", "dev-key", "short-key", "no-hosts"],
)
def test_debug_off_refuses_to_start_on_default_secrets_or_hosts(env, complaint):
    result = manage("check", DEBUG="false", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and complaint in result.stderr


def test_deploy_check_is_clean_with_production_settings_and_https():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=GOOD_KEY,
        ALLOWED_HOSTS="desk.example.com",
        SECURE_HTTPS="true",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_deploy_check_flags_plain_http_so_the_https_flag_matters():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=GOOD_KEY,
        ALLOWED_HOSTS="desk.example.com",
    )
    assert result.returncode != 0
    assert "security.W004" in result.stderr  # no HSTS without SECURE_HTTPS


def test_https_flag_turns_on_secure_cookies_hsts_and_redirect():
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS > 0, s.DEBUG)"
    )
    result = manage(
        "shell",
        "-c",
        code,
        DEBUG="false",
        SECRET_KEY=GOOD_KEY,
        ALLOWED_HOSTS="desk.example.com",
        SECURE_HTTPS="1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == [
        "True",
        "True",
        "True",
        "True",
        "False",
    ]


def test_throttle_rates_come_from_the_environment():
    code = (
        "from django.conf import settings as s; "
        "r = s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']; "
        "print(r['session_create'], r['customer_message'])"
    )
    result = manage(
        "shell",
        "-c",
        code,
        THROTTLE_SESSION_CREATE="1000/minute",
        THROTTLE_CUSTOMER_MESSAGE="5/second",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["1000/minute", "5/second"]
    defaults = manage("shell", "-c", code)
    assert defaults.stdout.strip().splitlines()[-1].split() == ["30/minute", "60/minute"]
