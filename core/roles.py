"""Who is a supervisor: the one answer for REST, pages and sockets.

Supervisors are staff, or members of the Django group "Supervisors" (made by a migration).
They see everything an agent's workspace shows, for every agent, and may end and transfer any
chat; changing settings, agents, groups and webhooks stays with staff.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from rest_framework.permissions import SAFE_METHODS, BasePermission

SUPERVISORS_GROUP = "Supervisors"


def is_supervisor(user) -> bool:
    """Staff, or in the Supervisors group (asked once per user object)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff:
        return True
    cached = getattr(user, "_is_supervisor", None)
    if cached is None:
        cached = user.groups.filter(name=SUPERVISORS_GROUP).exists()
        user._is_supervisor = cached
    return cached


class IsSupervisor(BasePermission):
    message = "Supervisors only."

    def has_permission(self, request, view):
        return is_supervisor(request.user)


class SupervisorReadsStaffWrites(BasePermission):
    """Supervisors may read (GET); only staff may change."""

    message = "Staff only: supervisors may look, not change settings."

    def has_permission(self, request, view):
        user = request.user
        if request.method in SAFE_METHODS:
            return is_supervisor(user)
        return bool(user and user.is_authenticated and user.is_staff)


def supervisor_required(view):
    """Pages: anonymous → the login page; signed in but not a supervisor → 403."""

    @wraps(view)
    def check(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_supervisor(request.user):
            return render(request, "supervision_app/not_supervisor.html", status=403)
        return view(request, *args, **kwargs)

    return check
