"""Server-rendered pages: the agent workspace and the customer chat (the live part is static JS)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie

from agents_app.selectors import agent_for_user


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
    return render(request, "sessions_app/workspace.html", {"agent": agent})


@ensure_csrf_cookie
def chat(request: HttpRequest) -> HttpResponse:
    return render(request, "sessions_app/chat.html")
