"""URLs of the supervisor's pages."""

from django.urls import path

from . import pages

urlpatterns = [
    path("supervisor/", pages.wallboard, name="supervisor"),
    path("supervisor/reports/", pages.reports, name="supervisor-reports"),
]
