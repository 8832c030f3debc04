"""App config for webhooks: the event outbox and its signed deliveries."""

from django.apps import AppConfig


class WebhooksAppConfig(AppConfig):
    name = "webhooks_app"
    verbose_name = "Webhooks"
