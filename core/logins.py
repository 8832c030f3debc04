"""Password guessing: failed logins counted per account and per address (django-axes), on every
way in (the login form, the admin login, the token endpoint), with a clear 429 and
`Retry-After`. Staff unlock an account or address in the admin (Axes > Access attempts:
delete the rows).
"""

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpResponse, JsonResponse


def client_ip(request) -> str | None:
    """The client's address as the throttles see it: the socket's, or the one NUM_PROXIES
    proxies in front appended to X-Forwarded-For (a client cannot pick its own)."""
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR")


def retry_after_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_response(request, response=None, credentials=None, *args, **kwargs):
    """What a locked-out login gets: JSON under /api/, a short page elsewhere."""
    wait = retry_after_seconds()
    minutes = max(1, round(wait / 60))
    detail = f"Too many failed logins. Try again in {minutes} minutes."
    if request.path.startswith("/api/"):
        answer = JsonResponse({"detail": detail, "code": "locked_out"}, status=429)
    else:
        answer = HttpResponse(detail, status=429, content_type="text/plain; charset=utf-8")
    answer["Retry-After"] = str(wait)
    return answer


class AxesBackend(AxesStandaloneBackend):
    """django-axes' lockout check for every login that comes with a request (the forms, the
    admin, the token endpoint). A call without one (the test client's `login`, a shell) has
    no address to count: it goes on to the password check alone."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
