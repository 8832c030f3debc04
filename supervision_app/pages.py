"""The supervisor's server-rendered pages: the wallboard and the reports (their live part is
static JS)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from agents_app.selectors import agent_for_user
from core.roles import supervisor_required
from skills_app.selectors import groups_with_members


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
    # The group filter's choices, rendered here: the skill-groups API is staff's.
    groups = [{"id": str(g.pk), "name": g.name} for g in groups_with_members()]
    return render(request, "supervision_app/reports.html", {**_nav(request), "groups": groups})
