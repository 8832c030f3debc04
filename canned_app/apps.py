"""App config for canned responses (the agents' quick replies)."""

from django.apps import AppConfig


class CannedAppConfig(AppConfig):
    name = "canned_app"
    verbose_name = "Canned responses"
