"""App config for webhooks: the event outbox and its signed deliveries."""

from django.apps import AppConfig


class WebhooksAppConfig(AppConfig):
    name = "webhooks_app"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from sessions_app import events

        from . import outbox

        # The outbox rows, in the action's transaction (nothing when no webhook wants them).
        events.on_record(in_transaction=outbox.record)
