"""Canned responses over REST: who owns, who sees, who may change; shortcuts."""

import pytest

from tests.api.conftest import client_for, customer_client

pytestmark = pytest.mark.django_db

URL = "/api/canned-responses/"


def rows(response) -> list[dict]:
    data = response.json()
    return data["results"] if isinstance(data, dict) else data


def create(client, shortcut: str, body: str = "Hello {customer}, I'm {agent}."):
    return client.post(URL, {"shortcut": shortcut, "title": shortcut.title(), "body": body}, "json")


def test_agents_own_theirs_staff_share_theirs_and_each_sees_the_right_ones(
    service_settings, make_agent, staff
):
    alice, bob = client_for(make_agent().user), client_for(make_agent().user)
    mine = create(alice, "hello")
    assert mine.status_code == 201, mine.content
    assert mine.json()["owner_id"] is not None
    shared = create(staff, "refund", "Refunds take 5 days.")
    assert shared.status_code == 201 and shared.json()["owner_id"] is None
    create(bob, "bye")
    # Alice sees the shared one and her own; not Bob's
    assert {c["shortcut"] for c in rows(alice.get(URL))} == {"hello", "refund"}
    assert {c["shortcut"] for c in rows(bob.get(URL))} == {"bye", "refund"}


def test_only_staff_change_shared_ones_and_only_owners_their_own(
    service_settings, make_agent, staff
):
    alice, bob = client_for(make_agent().user), client_for(make_agent().user)
    shared = create(staff, "refund").json()
    own = create(alice, "hello").json()
    # An agent may read a shared one but not change or delete it
    refused = alice.patch(f"{URL}{shared['id']}/", {"title": "Mine now"}, "json")
    assert (refused.status_code, refused.json()["code"]) == (403, "not_yours")
    assert alice.delete(f"{URL}{shared['id']}/").status_code == 403
    # Someone else's own is not there at all
    assert bob.patch(f"{URL}{own['id']}/", {"title": "Bob's"}, "json").status_code == 404
    assert bob.delete(f"{URL}{own['id']}/").status_code == 404
    # The owners may
    changed = alice.patch(f"{URL}{own['id']}/", {"body": "Hi {customer}!"}, "json")
    assert changed.status_code == 200 and changed.json()["body"] == "Hi {customer}!"
    assert staff.patch(f"{URL}{shared['id']}/", {"title": "Refunds"}, "json").status_code == 200
    assert alice.delete(f"{URL}{own['id']}/").status_code == 204
    assert staff.delete(f"{URL}{shared['id']}/").status_code == 204


def test_shortcuts_are_checked_and_unique_per_owner(service_settings, make_agent, staff):
    alice, bob = client_for(make_agent().user), client_for(make_agent().user)
    for bad in ("Hello", "with space", "x" * 33, ""):
        response = create(alice, bad)
        assert response.status_code == 400 and response.json()["field"] == "shortcut", bad
    assert create(alice, "hello").status_code == 201
    taken = create(alice, "hello")
    assert (taken.status_code, taken.json()["code"]) == (409, "shortcut_taken")
    assert create(bob, "hello").status_code == 201  # another owner's is another shortcut
    assert create(staff, "hello").status_code == 201  # and so is a shared one
    assert create(staff, "hello").status_code == 409
    blank = alice.post(URL, {"shortcut": "x", "title": "X", "body": "   "}, "json")
    assert blank.status_code == 400 and blank.json()["field"] == "body"


def test_customers_and_strangers_have_none(service_settings, make_session, anon):
    _, token = make_session()
    assert anon.get(URL).status_code in (401, 403)
    assert customer_client(token).get(URL).status_code in (401, 403)
