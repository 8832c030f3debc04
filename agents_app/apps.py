"""App config for agents and service settings."""

from django.apps import AppConfig


class AgentsAppConfig(AppConfig):
    name = "agents_app"
    verbose_name = "Agents and service settings"

    def ready(self) -> None:
        # Connects the signal that ends a user's API token when its password changes.
        from core import tokens  # noqa: F401
