"""Item 11: a strict Content-Security-Policy and a Permissions-Policy on every page; static
files never sniffed and cached."""

import re

import pytest

pytestmark = pytest.mark.django_db


def directives(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


@pytest.mark.parametrize("path", ["/chat/", "/accounts/login/", "/admin/login/", "/api/docs/"])
def test_pages_carry_a_strict_policy(client, path):
    answer = client.get(path)
    assert answer.status_code == 200
    policy = directives(answer["Content-Security-Policy"])
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "camera=()" in answer["Permissions-Policy"]
    assert answer["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/chat/", "/accounts/login/", "/api/docs/"])
def test_our_pages_have_no_inline_script_for_the_policy_to_block(client, path):
    html = client.get(path).content.decode()
    for tag in re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S):
        assert not tag.strip(), f"inline script on {path}: {tag[:80]!r}"


def test_the_workspace_carries_it_too(client, make_agent):
    agent = make_agent()
    client.force_login(agent.user)
    answer = client.get("/workspace/")
    assert directives(answer["Content-Security-Policy"])["script-src"] == "'self'"


def test_static_files_are_not_sniffed_and_are_cached(client):
    answer = client.get("/static/js/chat.js")
    assert answer.status_code == 200
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert "max-age=3600" in answer["Cache-Control"]
    assert answer["Content-Type"].startswith("text/javascript")
