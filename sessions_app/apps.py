"""App config for chat sessions."""

from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    verbose_name = "Chat sessions"

    def ready(self) -> None:
        from core.pgtypes import use_fast_timestamptz

        use_fast_timestamptz()  # every PostgreSQL connection of this process, from now on
