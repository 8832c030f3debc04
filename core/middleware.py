"""Answer 503 (not 500) while PostgreSQL or Redis cannot be reached, so clients retry."""

import logging

import redis
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

log = logging.getLogger(__name__)

OUTAGE_ERRORS = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
RETRY_AFTER_SECONDS = 2


class ServiceUnavailableMiddleware:
    """Turns a lost database or Redis connection raised by a view into a JSON 503."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OUTAGE_ERRORS):
            return None
        what = "redis" if isinstance(exception, redis.exceptions.RedisError) else "database"
        log.warning(
            "503 for %s %s: %s unavailable (%s)",
            request.method,
            request.path,
            what,
            type(exception).__name__,
        )
        response = JsonResponse(
            {
                "detail": f"The {what} is unavailable; try again shortly.",
                "code": "service_unavailable",
            },
            status=503,
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


class PermissionsPolicyMiddleware:
    """`Permissions-Policy` on every response: the desk needs no camera, microphone, location,
    payment or USB, so no page of it (or script injected into one) may ask for them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


def language_of(value: object) -> str | None:
    """One of the desk's languages for a code a browser or a link gives ("zh-Hans", "zh-CN",
    "en-GB"), or None."""
    from django.utils.translation import get_supported_language_variant

    if not isinstance(value, str) or not value or len(value) > 20:
        return None
    try:
        return get_supported_language_variant(value.lower())
    except LookupError:
        return None


class LanguageChoiceMiddleware:
    """The page's language: `?lang=` first (a customer's link, the widget), then a signed-in
    agent's profile, then what LocaleMiddleware took from the browser. The API is left alone:
    its texts are the contract's."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.utils import translation

        if not request.path.startswith(("/api/", "/static/", "/media/")):
            chosen = language_of(request.GET.get("lang"))
            if chosen is None and request.user.is_authenticated:
                agent = getattr(request.user, "agent", None)
                chosen = language_of(getattr(agent, "language", None))
            if chosen is not None:
                translation.activate(chosen)
                request.LANGUAGE_CODE = chosen
        return self.get_response(request)
