"""App config for supervision: the wallboard and the reports."""

from django.apps import AppConfig


class SupervisionAppConfig(AppConfig):
    name = "supervision_app"
    verbose_name = "Supervision and reports"

    def ready(self) -> None:
        from sessions_app import events

        from . import live, rollup

        # A past day's rollup that the events change goes in the action's transaction (rarely:
        # a chat from before midnight); the wallboard hears of the change after the commit.
        events.on_record(in_transaction=rollup.invalidate, after_commit=live.changed)
