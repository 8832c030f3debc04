"""Server-rendered pages: the agent workspace and the customer chat (the live part is static JS)."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie

from agents_app.selectors import agent_for_user
from core.roles import is_supervisor


def home(request: HttpRequest) -> HttpResponse:
    if agent_for_user(request.user) is not None:
        return redirect("workspace")
    return redirect("chat")


@login_required
@ensure_csrf_cookie
def workspace(request: HttpRequest) -> HttpResponse:
    agent = agent_for_user(request.user)
    if agent is None:
        return render(request, "sessions_app/not_agent.html", status=403)
    context = {"agent": agent, "is_supervisor": is_supervisor(request.user)}
    return render(request, "sessions_app/workspace.html", context)


@ensure_csrf_cookie
def chat(request: HttpRequest) -> HttpResponse:
    """The customer's chat page; `?embed=1`: inside the widget's frame on another site (the
    sites of WIDGET_ALLOWED_ORIGINS may frame it, no other)."""
    embed = request.GET.get("embed") == "1"
    context = {
        "embed": embed,
        # Prefilled by the widget (data-customer-name, data-email, data-skill-group).
        "prefill": {
            key: request.GET.get(key, "")[:254] for key in ("customer_name", "email", "skill_group")
        },
    }
    response = render(request, "sessions_app/chat.html", context)
    if embed:
        ancestors = ["'self'", *settings.WIDGET_ALLOWED_ORIGINS]
        response._csp_replace = {"frame-ancestors": ancestors}  # django-csp, for this response
        response.xframe_options_exempt = True  # frame-ancestors says who may, X-Frame-Options
        # cannot name several sites
    return response
