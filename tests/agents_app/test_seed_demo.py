"""`make run`'s demo data: logins, and departments the chat page offers a choice of."""

import io

import pytest
from django.core.management import call_command

from skills_app.models import SkillGroup
from skills_app.selectors import public_groups

pytestmark = pytest.mark.django_db


def test_demo_data_gives_three_public_groups_and_can_run_again():
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())  # a second `make run`
    assert sorted(g["name"] for g in public_groups()) == ["Billing", "General", "Sales"]
    billing = SkillGroup.objects.get(name="Billing")
    rows = billing.members.select_related("agent__user")
    members = {m.agent.user.username: m.priority for m in rows}
    assert members == {"alice": 1, "bob": 2}
    assert billing.overflow_group.is_default and billing.overflow_after_seconds == 60
    # Every demo agent is in General too (every new agent joins it).
    general = SkillGroup.objects.get(is_default=True)
    assert general.members.count() == 3


def test_demo_has_a_supervisor_and_a_week_of_history_once():
    from django.contrib.auth import get_user_model

    from core.roles import is_supervisor
    from sessions_app.models import ChatSession

    call_command("seed_demo", stdout=io.StringIO())
    sam = get_user_model().objects.get(username="sam")
    assert is_supervisor(sam) and not sam.is_staff
    chats = ChatSession.objects.count()
    assert chats >= 500
    # ... served by the demo's own agents (no other agent was made for it).
    served_by = set(
        ChatSession.objects.exclude(agent=None).values_list("agent__user__username", flat=True)
    )
    assert served_by == {"alice", "bob", "carol"}
    call_command("seed_demo", stdout=io.StringIO())
    assert ChatSession.objects.count() == chats  # not a second week
