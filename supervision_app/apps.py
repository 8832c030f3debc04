from django.apps import AppConfig


class SupervisionAppConfig(AppConfig):
    name = "supervision_app"
    verbose_name = "Supervision and reports"
