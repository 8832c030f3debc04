"""The supervisor's server-rendered pages: the wallboard and the reports (their live part is
static JS)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from agents_app.selectors import agent_for_user
from core.roles import supervisor_required
from skills_app.selectors import group_refs


def _nav(request: HttpRequest) -> dict:
    """What the pages' header links to: the workspace too, for a supervisor who is an agent."""
    return {"is_agent": agent_for_user(request.user) is not None}


@supervisor_required
@ensure_csrf_cookie
def wallboard(request: HttpRequest) -> HttpResponse:
    return render(request, "supervision_app/wallboard.html", _nav(request))


@supervisor_required
@ensure_csrf_cookie
def reports(request: HttpRequest) -> HttpResponse:
    # The group filter's choices, in the page: no request before the first report.
    context = {**_nav(request), "groups": group_refs()}
    return render(request, "supervision_app/reports.html", context)
