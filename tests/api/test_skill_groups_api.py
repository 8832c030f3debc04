"""REST for skill groups (staff), the public list, skill_group on create, decline, reasons."""

import pytest

from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def manual(service_settings):
    service_settings.service_mode = "manual"
    service_settings.save()
    return service_settings


def test_staff_create_read_change_and_list_groups(staff, make_agent):
    a, b = make_agent(), make_agent()
    created = staff.post(
        "/api/skill-groups/",
        {"name": "Billing", "description": "Invoices", "is_public": True},
        format="json",
    )
    assert created.status_code == 201, created.content
    group = created.json()
    assert group == {
        "id": group["id"],
        "name": "Billing",
        "description": "Invoices",
        "is_default": False,
        "is_public": True,
        "overflow_group_id": None,
        "overflow_after_seconds": None,
        "members": [],
    }
    # members replaces the list
    members = [{"agent_id": str(a.pk), "priority": 1}, {"agent_id": str(b.pk), "priority": 3}]
    changed = staff.patch(f"/api/skill-groups/{group['id']}/", {"members": members}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["members"] == members
    changed = staff.patch(
        f"/api/skill-groups/{group['id']}/",
        {"members": [{"agent_id": str(b.pk), "priority": 2}]},
        format="json",
    )
    assert changed.json()["members"] == [{"agent_id": str(b.pk), "priority": 2}]
    listed = staff.get("/api/skill-groups/").json()["results"]
    assert [g["name"] for g in listed] == ["General", "Billing"]
    assert listed[0]["is_default"] is True
    # An agent's representation lists its groups and priorities
    agent = staff.get(f"/api/agents/{b.pk}/").json()
    assert {g["name"]: g["priority"] for g in agent["skill_groups"]} == {"General": 3, "Billing": 2}
    assert agent["status_reason"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "X", "members": [{"agent_id": "999999", "priority": 1}]}, "members"),
        ({"name": "X", "members": [{"agent_id": "1", "priority": 9}]}, "members"),
        ({"name": "X", "overflow_group_id": "999999", "overflow_after_seconds": 5}, None),
        ({"name": "X", "overflow_after_seconds": 5}, "overflow_after_seconds"),
        ({"name": "X", "bogus": 1}, "bogus"),
    ],
)
def test_bad_groups_are_refused_with_400_naming_the_field(staff, body, field):
    response = staff.post("/api/skill-groups/", body, format="json")
    assert response.status_code == 400, response.content
    if field:
        assert response.json()["field"].startswith(field)


def test_a_name_is_unique_and_the_default_moves_but_never_vanishes(staff):
    first = staff.post("/api/skill-groups/", {"name": "Sales"}, format="json").json()
    again = staff.post("/api/skill-groups/", {"name": "Sales"}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "name_taken")
    general = staff.get("/api/skill-groups/").json()["results"][0]
    refused = staff.patch(
        f"/api/skill-groups/{general['id']}/", {"is_default": False}, format="json"
    )
    assert refused.status_code == 400
    moved = staff.patch(f"/api/skill-groups/{first['id']}/", {"is_default": True}, format="json")
    assert moved.json()["is_default"] is True
    assert staff.get(f"/api/skill-groups/{general['id']}/").json()["is_default"] is False
    itself = staff.patch(
        f"/api/skill-groups/{first['id']}/",
        {"overflow_group_id": first["id"], "overflow_after_seconds": 3},
        format="json",
    )
    assert (itself.status_code, itself.json()["field"]) == (400, "overflow_group_id")


def test_delete_refuses_a_group_in_use_and_removes_an_idle_one(staff, anon, manual, make_agent):
    make_agent()
    group = staff.post("/api/skill-groups/", {"name": "Busy"}, format="json").json()
    session = anon.post(
        "/api/sessions/",
        {"customer_name": "Ann", "skill_group": group["id"]},
        format="json",
    ).json()
    assert session["skill_group"] == {"id": group["id"], "name": "Busy"}
    refused = staff.delete(f"/api/skill-groups/{group['id']}/")
    assert (refused.status_code, refused.json()["code"]) == (409, "group_in_use")
    idle = staff.post("/api/skill-groups/", {"name": "Idle"}, format="json").json()
    assert staff.delete(f"/api/skill-groups/{idle['id']}/").status_code == 204
    assert staff.get(f"/api/skill-groups/{idle['id']}/").status_code == 404


def test_only_staff_manage_groups_and_anyone_lists_the_public_ones(staff, anon, make_agent):
    agent = make_agent()
    staff.post("/api/skill-groups/", {"name": "Billing", "is_public": True}, format="json")
    staff.post("/api/skill-groups/", {"name": "Internal", "is_public": False}, format="json")
    assert client_for(agent.user).get("/api/skill-groups/").status_code == 403
    assert anon.get("/api/skill-groups/").status_code == 401
    public = anon.get("/api/public/skill-groups/")
    assert public.status_code == 200
    assert [g["name"] for g in public.json()] == ["General", "Billing"]
    assert set(public.json()[0]) == {"id", "name"}


@pytest.mark.parametrize("value", ["999999", "abc", 12])
def test_an_unknown_skill_group_on_create_is_a_400_naming_it(anon, value):
    response = anon.post(
        "/api/sessions/", {"customer_name": "Ann", "skill_group": value}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["field"] == "skill_group"


def test_decline_over_rest_moves_the_offer_on(anon, manual, make_agent):
    first, second = make_agent(), make_agent()
    session = anon.post("/api/sessions/", {"customer_name": "Ann"}, format="json").json()
    holder = first if session["offer"]["agent_id"] == str(first.pk) else second
    other = second if holder is first else first
    declined = client_for(holder.user).post(f"/api/sessions/{session['id']}/decline/")
    assert declined.status_code == 200, declined.content
    assert declined.json()["offer"]["agent_id"] == str(other.pk)
    again = client_for(holder.user).post(f"/api/sessions/{session['id']}/decline/")
    assert (again.status_code, again.json()["code"]) == (409, "offer_declined")


def test_an_agent_going_away_gives_a_reason_that_is_cleared_online(make_agent):
    agent = make_agent()
    me = client_for(agent.user)
    away = me.patch("/api/agents/me/", {"status": "away", "status_reason": "lunch"}, format="json")
    assert (away.json()["status"], away.json()["status_reason"]) == ("away", "lunch")
    long = me.patch("/api/agents/me/", {"status_reason": "x" * 101}, format="json")
    assert (long.status_code, long.json()["field"]) == (400, "status_reason")
    back = me.patch("/api/agents/me/", {"status": "online"}, format="json")
    assert back.json()["status_reason"] is None
