"""Create the demo admin and three demo agents (idempotent) and print their logins."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from agents_app.actions.agents import agent_create
from agents_app.actions.settings import service_settings_get
from agents_app.models import Agent

DEMO_AGENTS = [("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol")]
DEMO_PASSWORD = "agent-demo"
ADMIN = ("admin", "admin-demo")


class Command(BaseCommand):
    help = "Create a demo admin and three demo agents for a local try-out."

    def handle(self, *args, **options):
        User = get_user_model()
        service_settings_get()
        username, password = ADMIN
        if not User.objects.filter(username=username).exists():
            User.objects.create_superuser(username=username, password=password)
        for username, name in DEMO_AGENTS:
            if not Agent.objects.filter(user__username=username).exists():
                agent_create(username=username, password=DEMO_PASSWORD, display_name=name)
        self.stdout.write("Demo logins (change them before real use):")
        self.stdout.write(f"  admin  : {ADMIN[0]} / {ADMIN[1]}")
        for username, _ in DEMO_AGENTS:
            self.stdout.write(f"  agent  : {username} / {DEMO_PASSWORD}")
