"""The admin site under the desk's own name (DESK_NAME), and logs from other apps kept read-only."""

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext


class DeskAdminSite(admin.AdminSite):
    """Django's admin site, titled with DESK_NAME. Properties, so the setting is read per page
    (never at import time) and a test's override shows."""

    @property
    def site_header(self) -> str:
        return settings.DESK_NAME

    @property
    def site_title(self) -> str:
        return settings.DESK_NAME

    @property
    def index_title(self) -> str:
        return gettext("%(desk)s administration") % {"desk": settings.DESK_NAME}


class ViewOnlyAdmin(admin.ModelAdmin):
    """A log: read in the admin, never edited there (so its page has no Save buttons)."""

    def has_change_permission(self, request, obj=None):
        return False


def _view_only(site: admin.AdminSite, models) -> None:
    """Re-register other apps' logs, whose every field is read-only, without the Save buttons
    their change pages would show (saving them changes nothing)."""
    for model in models:
        if not site.is_registered(model):
            continue
        current = type(site.get_model_admin(model))
        site.unregister(model)
        site.register(model, type(current.__name__, (ViewOnlyAdmin, current), {}))


class DeskAdminConfig(AdminConfig):
    """Installed in place of "django.contrib.admin" (settings.INSTALLED_APPS)."""

    default_site = "core.admin_site.DeskAdminSite"

    def ready(self) -> None:
        super().ready()  # every app's admin.py registered
        from axes.models import AccessAttempt, AccessFailureLog, AccessLog

        _view_only(self.module.site, [AccessAttempt, AccessFailureLog, AccessLog])
