"""Create the demo admin, a supervisor, three demo agents, two skill groups and a week of
past chats for the reports (idempotent); print the logins."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone

from agents_app.actions.agents import agent_create
from agents_app.actions.settings import service_settings_get
from agents_app.models import Agent
from core.roles import SUPERVISORS_GROUP
from sessions_app.models import ChatSession
from skills_app.actions import skill_group_create
from skills_app.models import SkillGroup
from skills_app.selectors import default_group

DEMO_AGENTS = [("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol")]
DEMO_PASSWORD = "agent-demo"
ADMIN = ("admin", "admin-demo")
SUPERVISOR = ("sam", "supervisor-demo")  # in the Supervisors group: wallboard and reports
HISTORY_CHATS = 600  # a week of past chats for three agents: the reports have charts at once
# Two departments beside "General", both public, so the chat page asks which one: Alice leads
# Billing (Bob backs her up), Carol leads Sales; Billing's chats reach General after a minute.
DEMO_GROUPS = [
    ("Billing", [("alice", 1), ("bob", 2)], 60),
    ("Sales", [("carol", 1), ("bob", 3)], None),
]


class Command(BaseCommand):
    help = "Create a demo admin, three demo agents and two skill groups for a local try-out."

    def handle(self, *args, **options):
        User = get_user_model()
        service_settings_get()
        username, password = ADMIN
        if not User.objects.filter(username=username).exists():
            User.objects.create_superuser(username=username, password=password)
        for username, name in DEMO_AGENTS:
            if not Agent.objects.filter(user__username=username).exists():
                agent_create(
                    username=username,
                    password=DEMO_PASSWORD,
                    display_name=name,
                    check_password=False,  # the demo's one password, printed below
                )
        general = default_group()
        for name, members, overflow_after in DEMO_GROUPS:
            if SkillGroup.objects.filter(name=name).exists():
                continue
            ids = dict(Agent.objects.values_list("user__username", "pk"))
            skill_group_create(
                name=name,
                is_public=True,
                members=[{"agent_id": ids[u], "priority": p} for u, p in members],
                overflow_group_id=general.pk if overflow_after else None,
                overflow_after_seconds=overflow_after,
            )
        username, password = SUPERVISOR
        if not User.objects.filter(username=username).exists():
            user = User.objects.create_user(username=username, password=password)
            user.groups.add(Group.objects.get_or_create(name=SUPERVISORS_GROUP)[0])
        if not ChatSession.objects.exists():  # a fresh desk: a week of history once
            self.stdout.write(f"Adding a week of past chats ({HISTORY_CHATS}) for the reports")
            # The demo desk has run for a week, its three agents on shifts (an agent works no
            # day before it joined).
            joined = timezone.now() - timedelta(days=8)
            demo = Agent.objects.filter(user__username__in=[u for u, _ in DEMO_AGENTS])
            demo.update(created_at=joined)
            call_command(
                "seed_history",
                sessions=HISTORY_CHATS,
                days=7,
                agents=len(DEMO_AGENTS),
                seed=6,  # a week in which every day has someone on shift
                quiet=True,
            )
        self.stdout.write("Demo logins (change them before real use):")
        self.stdout.write(f"  admin  : {ADMIN[0]} / {ADMIN[1]}")
        self.stdout.write(f"  supervisor: {SUPERVISOR[0]} / {SUPERVISOR[1]}")
        for username, _ in DEMO_AGENTS:
            self.stdout.write(f"  agent  : {username} / {DEMO_PASSWORD}")
