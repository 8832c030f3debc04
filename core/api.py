"""REST plumbing every app's API shares: error shape, customer auth, throttles, strict bodies."""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
)
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import DomainError
from .tokens import ExpiringTokenAuthentication

# Staff and agents: an API token, or the browser's signed-in session (with CSRF).
USER_AUTH = [ExpiringTokenAuthentication, SessionAuthentication]

CUSTOMER_HEADER = "X-Customer-Token"


# --- errors: every 4xx is {"detail", "code"} (plus "field" when one field is to blame) ---------


def _first_error(detail, path: str = "") -> tuple[str, str, str]:
    """The first (field, message, code) of a nested DRF error structure; field may be ""."""
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        if key == api_settings.NON_FIELD_ERRORS_KEY:
            return _first_error(value, path)
        return _first_error(value, f"{path}.{key}" if path else str(key))
    if isinstance(detail, list) and detail:
        return _first_error(detail[0], path)
    return path, str(detail), getattr(detail, "code", None) or "invalid"


def exception_handler(exc, context):
    """DRF's handler, reshaped; domain errors from actions map to their HTTP status."""
    if isinstance(exc, DomainError):
        data = {"detail": exc.detail, "code": exc.code}
        if exc.field:
            data["field"] = exc.field
        return Response(data, status=exc.status)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API error: let Django report it (and the test suite catch it)
    if isinstance(exc, exceptions.ValidationError):
        field, message, code = _first_error(exc.detail)
        data = {"detail": f"{field}: {message}" if field else message, "code": code}
        if field:
            data["field"] = field
        data["errors"] = exc.detail
        response.data = data
        return response
    if isinstance(exc, Http404):
        code = "not_found"
    elif isinstance(exc, DjangoPermissionDenied):
        code = "permission_denied"
    else:
        code = getattr(exc, "default_code", "error")
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        if isinstance(codes, str):
            code = codes
    detail = response.data.get("detail") if isinstance(response.data, dict) else None
    response.data = {"detail": str(detail or response.status_text), "code": code}
    return response


@csrf_exempt  # nothing is changed here: a POST to an unknown path is a 404, not a CSRF 403
def json_not_found(request, exception=None):
    """Unknown URLs answer JSON under /api/ (clients parse it) and plain text elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def json_server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error.", "code": "server_error"}, status=500)
    from django.views.defaults import server_error

    return server_error(request)


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx/5xx answer."""

    detail = serializers.CharField(help_text="What went wrong, for people.")
    code = serializers.CharField(
        help_text="Machine-readable: e.g. `unknown_field`, `required`, `not_found`, "
        "`session_ended`, `offer_expired`, `throttled`."
    )
    field = serializers.CharField(
        required=False, help_text="The request field at fault, when there is one."
    )
    errors = serializers.JSONField(
        required=False, help_text="Validation errors: every field with its messages."
    )


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    described = {
        400: "Malformed JSON, unknown field or invalid value.",
        401: "No credentials, or credentials that are not valid.",
        403: "Authenticated, but not allowed to do this.",
        404: "Unknown, or not yours to see.",
        405: "Method not allowed on this path.",
        409: "The session's current state does not allow this.",
        415: "Send application/json.",
        429: "Too many requests; see the Retry-After header.",
    }
    return {
        code: OpenApiResponse(ErrorSerializer, description=described.get(code, "Error."))
        for code in statuses
    }


def conflict_response(description: str) -> OpenApiResponse:
    """The 409 of one operation, saying which conflicts it has (the body is the Error)."""
    return OpenApiResponse(ErrorSerializer, description=description)


# --- bodies: a field we do not know is an error, not something to ignore silently -------------


class StrictSerializer(serializers.Serializer):
    """A request body serializer that rejects fields it does not define (code `unknown_field`)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise exceptions.ValidationError(
                    {
                        name: [exceptions.ErrorDetail("Unknown field.", code="unknown_field")]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


class TextField(serializers.CharField):
    """A CharField that takes only JSON strings (DRF's would turn 42 or true into text)."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def parse(serializer_class, data, *, partial: bool = False) -> dict:
    """The validated body (or query), or a 400 naming the first field at fault."""
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class StrictSerializerScheme(OpenApiSerializerExtension):
    """In the schema, a strict body allows no other properties (schemathesis checks this)."""

    target_class = "core.api.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema


# --- the customer's credential: X-Customer-Token, checked against one session at a time -------


@dataclass(frozen=True)
class CustomerCredential:
    """A customer token as sent; whether it opens a session is decided per session."""

    token: str

    def __repr__(self) -> str:  # never let the secret reach a log line or a traceback
        return "CustomerCredential(<hidden>)"


class CustomerTokenAuthentication(BaseAuthentication):
    """`X-Customer-Token: <customer_token>`: an anonymous user carrying the customer's secret."""

    def authenticate(self, request):
        token = request.headers.get(CUSTOMER_HEADER)
        if not token:
            return None
        from django.contrib.auth.models import AnonymousUser

        return AnonymousUser(), CustomerCredential(token.strip())


def customer_credential(request) -> CustomerCredential | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, CustomerCredential) else None


class CustomerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "core.api.CustomerTokenAuthentication"
    name = "customerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": CUSTOMER_HEADER,
            "description": "The `customer_token` returned once by `POST /api/sessions/`; "
            "opens that one session only.",
        }


# --- permissions ---------------------------------------------------------------------------------


class IsStaff(BasePermission):
    message = "Staff only."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


class IsUserOrCustomer(BasePermission):
    """A logged-in user or a customer token; which session it opens is checked by the view."""

    def has_permission(self, request, view):
        user = request.user
        return bool((user and user.is_authenticated) or customer_credential(request))


# --- throttles: rates read from settings when used, so tests and operators can change them -----


class _RateFromSettings(SimpleRateThrottle):
    def get_rate(self):
        rates = api_settings.DEFAULT_THROTTLE_RATES
        return rates.get(self.scope)

    def __init__(self):
        # SimpleRateThrottle reads its rates once at import; ours are read per request.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)


class SessionCreateThrottle(_RateFromSettings):
    """Anonymous session creation, per client address (THROTTLE_SESSION_CREATE)."""

    scope = "session_create"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None  # integrations with a token are trusted callers
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class OfflineMessageThrottle(_RateFromSettings):
    """Offline messages, per client address (THROTTLE_OFFLINE_MESSAGE)."""

    scope = "offline_message"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AuthTokenThrottle(_RateFromSettings):
    """Password guessing on the token endpoint, per client address (THROTTLE_AUTH_TOKEN)."""

    scope = "auth_token"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class CustomerMessageThrottle(_RateFromSettings):
    """Customer messages, per session (THROTTLE_CUSTOMER_MESSAGE). Checked once authorised."""

    scope = "customer_message"

    def __init__(self, session_id: str):
        super().__init__()
        self.session_id = session_id

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.session_id}


def throttle_or_raise(throttle: SimpleRateThrottle, request, view) -> None:
    if throttle.rate is None:
        return
    if not throttle.allow_request(request, view):
        raise exceptions.Throttled(wait=throttle.wait())


# --- pagination ----------------------------------------------------------------------------------


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


# --- the one write the API itself needs: a DRF token for a user -------------------------------


def auth_token_issue(*, user) -> str:
    """The user's API token (core/tokens.py: the current one while it lasts, else a new one)."""
    from .tokens import token_for

    return token_for(user)
