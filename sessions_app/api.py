"""REST views for chat sessions, their messages, accept and end."""

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_app.selectors import agent_for_user
from core.api import (
    CustomerMessageThrottle,
    CustomerTokenAuthentication,
    IsUserOrCustomer,
    Pagination,
    SessionCreateThrottle,
    StrictSerializer,
    TextField,
    conflict_response,
    customer_credential,
    error_responses,
    parse,
    throttle_or_raise,
)
from core.errors import DomainError, Invalid, NotFound
from core.middleware import language_of
from core.roles import is_supervisor
from core.text import MAX_BODY, MAX_NAME
from core.tokens import ExpiringTokenAuthentication as TokenAuthentication

from . import selectors
from .access import Access, Act, Role, access_session
from .actions.create import session_create
from .actions.end import session_end
from .actions.messages import message_send
from .actions.offers import offer_accept, offer_decline
from .actions.rating import MAX_COMMENT, rating_submit
from .actions.transfer import MAX_NOTE, session_transfer
from .attachments import ALLOWED, is_image
from .models import EndReason, Sender, SessionState

# Order matters: a customer header wins over a browser's session cookie (no CSRF for customers),
# and the first class names the 401 challenge (`WWW-Authenticate: Token`).
SESSION_AUTH = [TokenAuthentication, CustomerTokenAuthentication, SessionAuthentication]


# --- representations, for the schema (the views return selectors' dicts) ------------------------


class SessionAgentSerializer(serializers.Serializer):
    id = serializers.CharField()
    display_name = serializers.CharField()


class OfferSerializer(serializers.Serializer):
    id = serializers.CharField()
    agent_id = serializers.CharField()
    expires_at = serializers.DateTimeField()


class GroupRefSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class RatingSerializer(serializers.Serializer):
    score = serializers.IntegerField()
    scale = serializers.IntegerField()
    comment = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class SessionSerializer(serializers.Serializer):
    """The Session representation."""

    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=SessionState.values)
    customer_name = serializers.CharField()
    agent = SessionAgentSerializer(allow_null=True, help_text="Set while active and once ended.")
    created_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    end_reason = serializers.ChoiceField(choices=EndReason.values, allow_null=True)
    last_activity_at = serializers.DateTimeField(help_text="Extension: the latest change.")
    queue_position = serializers.IntegerField(
        required=False, min_value=1, help_text="1-based; only while queued."
    )
    offer = OfferSerializer(required=False, help_text="Only while offered.")
    skill_group = GroupRefSerializer(
        allow_null=True, help_text="The group it is routed in (null once that group is deleted)."
    )
    email = serializers.EmailField(allow_null=True)
    attributes = serializers.DictField()
    rating = RatingSerializer(allow_null=True, help_text="Once the customer rated it.")


class SessionRecordSerializer(serializers.Serializer):
    """What a finished chat was (also `data.record` of the `session.ended` webhook)."""

    queued_seconds = serializers.FloatField(help_text="Created → first offer or assignment.")
    wait_seconds = serializers.FloatField(allow_null=True, help_text="Created → served.")
    handle_seconds = serializers.FloatField(allow_null=True, help_text="Served → ended.")
    offers = serializers.IntegerField()
    missed_offers = serializers.IntegerField(help_text="Expired or declined.")
    transfers = serializers.IntegerField(help_text="Transfers accepted.")
    messages = serializers.DictField(child=serializers.IntegerField(), help_text="By sender.")
    end_reason = serializers.ChoiceField(choices=EndReason.values)
    agent = SessionAgentSerializer(allow_null=True)
    skill_group = GroupRefSerializer(allow_null=True)
    rating = RatingSerializer(allow_null=True)


class SessionDetailSerializer(SessionSerializer):
    record = SessionRecordSerializer(required=False, help_text="Once ended.")


class SessionCreatedSerializer(SessionSerializer):
    customer_token = serializers.CharField(
        help_text="The customer's secret for X-Customer-Token; returned here only."
    )


class AttachmentSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    url = serializers.CharField(
        help_text="For its agent, staff, and its customer (add `?token=` or the header)."
    )


class MessageSerializer(serializers.Serializer):
    """The Message representation."""

    id = serializers.CharField()
    session_id = serializers.UUIDField()
    sender = serializers.ChoiceField(choices=Sender.values)
    body = serializers.CharField()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True, help_text="When the other side read it.")
    attachment = AttachmentSerializer(allow_null=True)


# --- request bodies ------------------------------------------------------------------------------


class SessionCreateRequest(StrictSerializer):
    """A customer opens a chat."""

    customer_name = TextField(max_length=MAX_NAME)
    message = TextField(
        max_length=MAX_BODY,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="Becomes the session's first customer message.",
    )
    skill_group = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="A skill group's id (see /api/public/skill-groups/); absent: the default group.",
    )
    email = TextField(required=False, allow_blank=True, allow_null=True, max_length=254)
    attributes = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="At most 20 keys; values strings, numbers or booleans of up to 200 characters.",
    )
    language = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=20,
        help_text="Extension: the customer's language for the prompts (en, zh-Hans); absent: "
        "from Accept-Language.",
    )


class MessageCreateRequest(StrictSerializer):
    """A message from the customer or the serving agent."""

    body = TextField(max_length=MAX_BODY, help_text="1-4000 characters after trimming.")


class SessionListQuery(serializers.Serializer):
    state = serializers.ChoiceField(choices=SessionState.values, required=False)
    q = serializers.CharField(required=False, max_length=200, allow_blank=True)
    email = serializers.CharField(required=False, max_length=254)


# --- who is asking, about which session ---------------------------------------------------------


def _access(request, session_id: str) -> Access:
    """The session and the caller's role in it; 404 when it is unknown or not theirs."""
    credential = customer_credential(request)
    if credential is not None:
        return access_session(session_id, customer_token=credential.token)
    return access_session(session_id, user=request.user)


SESSION_PATH = [
    OpenApiParameter("session_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
]


# --- /api/sessions/ -----------------------------------------------------------------------------


class SessionListView(APIView):
    """List sessions (agents: their own; staff: all), or open one as a customer."""

    pagination_class = Pagination

    def _creating(self) -> bool:
        return getattr(self.request, "method", None) == "POST"

    def get_authenticators(self):
        # Creating a chat is anonymous: no session cookie, so no CSRF for the customer page.
        if self._creating():
            return [TokenAuthentication()]
        return [TokenAuthentication(), SessionAuthentication()]

    def get_permissions(self):
        return [AllowAny()] if self._creating() else super().get_permissions()

    def get_throttles(self):
        return [SessionCreateThrottle()] if self._creating() else []

    @extend_schema(
        operation_id="sessions_list",
        summary="List chat sessions",
        description=(
            "Agents list their own chats, staff every chat, newest first: filter by state, search "
            "names, emails and messages, or find a returning customer's chats by email."
        ),
        parameters=[
            OpenApiParameter(
                "state", str, enum=SessionState.values, description="Only sessions in this state."
            ),
            OpenApiParameter(
                "q",
                str,
                description="Customer name, email or message text (full-text search on "
                'PostgreSQL: words, "a phrase", -word).',
            ),
            OpenApiParameter(
                "email",
                str,
                description="A returning customer's chats. Agents see every chat of a customer "
                "they serve now; otherwise their own.",
            ),
        ],
        responses={200: SessionSerializer(many=True), **error_responses(400, 401, 403)},
        tags=["sessions"],
    )
    def get(self, request):
        query = parse(SessionListQuery, request.query_params)
        oversees = is_supervisor(request.user)  # staff and supervisors see every chat
        agent = None if oversees else agent_for_user(request.user)
        if agent is None and not oversees:
            raise PermissionDenied("Agents, supervisors and staff only.", code="not_an_agent")
        email = query.get("email", "").strip()
        if email and (oversees or selectors.serves_customer(agent, email)):
            sessions = selectors.sessions_of_customer(email)
        else:
            sessions = selectors.sessions_visible_to(agent, staff=oversees)
            if email:
                sessions = sessions.filter(email__iexact=email)
        if "state" in query:
            sessions = sessions.filter(state=query["state"])
        if query.get("q"):
            sessions = selectors.sessions_matching(sessions, query["q"])
        sessions = sessions.select_related("agent__user", "skill_group", "rating")
        sessions = sessions.order_by("-created_at", "pk")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(sessions, request, view=self)
        return paginator.get_paginated_response([selectors.session_dict(s) for s in page])

    @extend_schema(
        operation_id="sessions_create",
        summary="Open a chat",
        description=(
            "A customer opens a chat (no login): the session is created in the chosen skill group "
            "(else the default one) and routed at once, offered or assigned to an agent or "
            "queued. The answer carries the `customer_token` the customer sends as "
            "`X-Customer-Token` from then on: it is never shown again. Outside working hours the "
            "desk is closed (409 `outside_working_hours`)."
        ),
        request=SessionCreateRequest,
        responses={
            201: SessionCreatedSerializer,
            **error_responses(400, 401, 429),
            409: conflict_response(
                "`outside_working_hours`: the desk is closed; `detail` is the offline notice "
                "(leave a message at /api/offline-messages/)."
            ),
        },
        auth=[{"tokenAuth": []}, {}],
        tags=["sessions"],
    )
    def post(self, request):
        data = parse(SessionCreateRequest, request.data)
        session, token = session_create(
            customer_name=data["customer_name"],
            message=data.get("message"),
            skill_group=data.get("skill_group"),
            email=data.get("email"),
            attributes=data.get("attributes"),
            # The customer's language: as given, else the browser's (Accept-Language).
            language=language_of(data.get("language")) or getattr(request, "LANGUAGE_CODE", None),
        )
        return Response(dict(selectors.session_dict(session), customer_token=token), status=201)


class SessionDetailView(APIView):
    """One session: its agent, an agent it is offered to, staff, or its customer."""

    authentication_classes = SESSION_AUTH
    permission_classes = [IsUserOrCustomer]

    @extend_schema(
        operation_id="sessions_read",
        parameters=SESSION_PATH,
        responses={200: SessionDetailSerializer, **error_responses(401, 404)},
        tags=["sessions"],
    )
    def get(self, request, session_id: str):
        session = _access(request, session_id).session
        data = selectors.session_dict(session)
        if session.state == SessionState.ENDED:
            data["record"] = selectors.session_record(session)
        return Response(data)


class SessionMessagesView(APIView):
    """The conversation, oldest first; customers write in any state but ended, agents in active."""

    authentication_classes = SESSION_AUTH
    permission_classes = [IsUserOrCustomer]

    @extend_schema(
        operation_id="sessions_messages_list",
        summary="Read the conversation",
        description=(
            "The session's messages, oldest first, for its customer, its agents and staff."
        ),
        parameters=SESSION_PATH,
        responses={200: MessageSerializer(many=True), **error_responses(401, 404, 409)},
        tags=["sessions"],
    )
    def get(self, request, session_id: str):
        found = _access(request, session_id).require(Act.READ_MESSAGES)
        messages = selectors.session_messages(found.session)
        return Response([selectors.message_dict(m) for m in messages])

    @extend_schema(
        operation_id="sessions_messages_create",
        summary="Send a message",
        description=(
            "Send a message in the chat: its customer in any state but ended (throttled per "
            "session), its agent while it is active. Both sides receive it live."
        ),
        parameters=SESSION_PATH,
        request=MessageCreateRequest,
        responses={201: MessageSerializer, **error_responses(400, 401, 403, 404, 409, 429)},
        tags=["sessions"],
    )
    def post(self, request, session_id: str):
        found = _access(request, session_id).require(Act.WRITE)
        if found.role == Role.CUSTOMER:
            throttle_or_raise(CustomerMessageThrottle(str(found.session.pk)), request, self)
        data = parse(MessageCreateRequest, request.data)
        sender = Sender.CUSTOMER if found.role == Role.CUSTOMER else Sender.AGENT
        message = message_send(
            session_id=found.session.pk, sender=sender, body=data["body"], agent=found.agent
        )
        return Response(selectors.message_dict(message), status=201)


class UploadRequest(serializers.Serializer):
    file = serializers.FileField(help_text="PNG, JPEG, GIF, WebP, PDF or plain text.")


class SessionAttachmentsView(APIView):
    """Send a file: the session's agent while active, its customer in any state but ended."""

    authentication_classes = SESSION_AUTH
    permission_classes = [IsUserOrCustomer]
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="sessions_attachments_create",
        parameters=SESSION_PATH,
        request={"multipart/form-data": UploadRequest},
        responses={
            201: MessageSerializer,
            **error_responses(400, 401, 403, 404, 409, 413, 415, 429),
        },
        tags=["sessions"],
    )
    def post(self, request, session_id: str):
        found = _access(request, session_id).require(Act.WRITE)
        if found.role == Role.CUSTOMER:
            throttle_or_raise(CustomerMessageThrottle(str(found.session.pk)), request, self)
        upload = request.FILES.get("file")
        if upload is None:
            raise Invalid("Send the file as the multipart field `file`.", field="file")
        sender = Sender.CUSTOMER if found.role == Role.CUSTOMER else Sender.AGENT
        message = message_send(
            session_id=found.session.pk, sender=sender, agent=found.agent, upload=upload
        )
        return Response(selectors.message_dict(message), status=201)


class AttachmentView(APIView):
    """Download a file: its session's agent, staff, its customer (`?token=` or the header).

    Anyone else, or a file that is gone, is 404. Images are shown inline with their real
    type; everything else is a download. Never sniffed, never run: `nosniff`, and a sandbox
    that allows nothing even if a browser were to render it."""

    authentication_classes = SESSION_AUTH
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="attachments_read",
        parameters=[
            OpenApiParameter("attachment_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
            OpenApiParameter("token", OpenApiTypes.STR, description="The customer's token."),
        ],
        responses={
            **{(200, kind): OpenApiTypes.BINARY for kind in ALLOWED},
            **error_responses(404),
        },
        tags=["sessions"],
    )
    def get(self, request, attachment_id: str):
        attachment = selectors.attachment_get(attachment_id)
        if attachment is None:
            raise NotFound("No such file.")
        token = request.query_params.get("token")
        credential = customer_credential(request)
        try:
            if token or credential is not None:
                key = credential.token if credential is not None else token
                access_session(attachment.session_id, customer_token=key)
            elif request.user.is_authenticated:
                access_session(attachment.session_id, user=request.user).require(Act.READ_MESSAGES)
            else:
                raise NotFound("No such file.")
            handle = attachment.file.open("rb")
        except (DomainError, FileNotFoundError, OSError):
            raise NotFound("No such file.") from None
        inline = is_image(attachment.content_type)
        response = FileResponse(
            handle,
            content_type=attachment.content_type,
            as_attachment=not inline,
            filename=attachment.name,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, max-age=3600"
        return response


class PlainTextRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data.encode() if isinstance(data, str) else str(data).encode()


class TranscriptSerializer(serializers.Serializer):
    session = SessionSerializer()
    messages = MessageSerializer(many=True)


class SessionTranscriptView(APIView):
    """The whole chat: its agent, staff, its customer, and an agent serving the same customer
    (by email) now. Plain text by default; JSON with `Accept: application/json`."""

    authentication_classes = SESSION_AUTH
    permission_classes = [IsUserOrCustomer]
    renderer_classes = [PlainTextRenderer, JSONRenderer]

    @extend_schema(
        operation_id="sessions_transcript",
        parameters=SESSION_PATH,
        responses={
            (200, "text/plain"): OpenApiTypes.STR,
            (200, "application/json"): TranscriptSerializer,
            **error_responses(401, 404),
        },
        tags=["sessions"],
    )
    def get(self, request, session_id: str):
        session = _transcript_access(request, session_id)
        messages = list(selectors.session_messages(session))
        if isinstance(request.accepted_renderer, JSONRenderer):
            return Response(
                {
                    "session": selectors.session_dict(session),
                    "messages": [selectors.message_dict(m) for m in messages],
                }
            )
        response = Response(selectors.transcript_text(session, messages))
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code >= 400:  # errors are JSON, whatever was asked for
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


def _transcript_access(request, session_id: str):
    try:
        return _access(request, session_id).require(Act.READ_MESSAGES).session
    except NotFound:
        agent = agent_for_user(request.user) if request.user.is_authenticated else None
        session = selectors.session_get(session_id)
        if agent is None or session is None or not session.email:
            raise
        if not selectors.serves_customer(agent, session.email):
            raise
        return session


class RatingRequest(StrictSerializer):
    score = serializers.IntegerField(help_text="1 to the settings' `rating_scale` (5 or 10).")
    comment = TextField(required=False, allow_blank=True, max_length=MAX_COMMENT)


class SessionRatingView(APIView):
    """The customer rates its chat: once, after an agent served it, within the window."""

    authentication_classes = SESSION_AUTH
    permission_classes = [IsUserOrCustomer]

    @extend_schema(
        operation_id="sessions_rating_create",
        parameters=SESSION_PATH,
        request=RatingRequest,
        responses={
            201: RatingSerializer,
            **error_responses(400, 401, 403, 404),
            409: conflict_response(
                "`already_rated`, or `rating_closed` (not ended, no agent served "
                "it, ratings off, or the window has passed)."
            ),
        },
        tags=["sessions"],
    )
    def post(self, request, session_id: str):
        found = _access(request, session_id).require(Act.RATE)
        body = parse(RatingRequest, request.data)
        rating = rating_submit(
            session_id=found.session.pk, score=body["score"], comment=body.get("comment")
        )
        return Response(selectors.rating_dict(rating), status=201)


class SessionAcceptView(APIView):
    """The offered agent takes the session before the offer expires."""

    authentication_classes = SESSION_AUTH
    permission_classes = [IsUserOrCustomer]

    @extend_schema(
        operation_id="sessions_accept",
        parameters=SESSION_PATH,
        request=None,
        responses={
            200: SessionSerializer,
            **error_responses(401, 403, 404),
            409: conflict_response(
                "The offer is gone: expired, withdrawn, someone else's, or the "
                "session ended (`offer_expired`, `offer_gone`, `session_ended`)."
            ),
        },
        tags=["sessions"],
    )
    def post(self, request, session_id: str):
        found = _access(request, session_id).require(Act.ACCEPT)
        if found.agent is None:
            raise PermissionDenied("You have no agent profile.", code="not_an_agent")
        session = offer_accept(session_id=found.session.pk, agent=found.agent)
        return Response(selectors.session_dict(session))


class SessionDeclineView(APIView):
    """The offered agent says no: the session goes on to the next eligible agent at once."""

    authentication_classes = SESSION_AUTH
    permission_classes = [IsUserOrCustomer]

    @extend_schema(
        operation_id="sessions_decline",
        parameters=SESSION_PATH,
        request=None,
        responses={
            200: SessionSerializer,
            **error_responses(401, 403, 404),
            409: conflict_response(
                "The offer is gone: expired, withdrawn, declined already, someone "
                "else's, or the session ended."
            ),
        },
        tags=["sessions"],
    )
    def post(self, request, session_id: str):
        found = _access(request, session_id).require(Act.DECLINE)
        if found.agent is None:
            raise PermissionDenied("You have no agent profile.", code="not_an_agent")
        session = offer_decline(session_id=found.session.pk, agent=found.agent)
        return Response(selectors.session_dict(session))


class TransferRequestSerializer(StrictSerializer):
    to_agent = serializers.CharField(required=False, help_text="An agent's id.")
    to_group = serializers.CharField(required=False, help_text="A skill group's id.")
    note = TextField(required=False, allow_blank=True, max_length=MAX_NOTE)

    def validate(self, attrs):
        if ("to_agent" in attrs) == ("to_group" in attrs):
            raise serializers.ValidationError(
                {"to_agent": "Give exactly one of to_agent and to_group."}
            )
        return attrs


class TransferSerializer(serializers.Serializer):
    """A standing transfer, as its sender sees it."""

    offer_id = serializers.CharField()
    session_id = serializers.CharField()
    to_agent = SessionAgentSerializer()
    note = serializers.CharField()
    expires_at = serializers.DateTimeField()
    countdown_seconds = serializers.IntegerField()


class SessionTransferView(APIView):
    """Hand an active chat to another agent or to a group: its agent, or staff for any chat."""

    authentication_classes = SESSION_AUTH
    permission_classes = [IsUserOrCustomer]

    @extend_schema(
        operation_id="sessions_transfer",
        parameters=SESSION_PATH,
        request=TransferRequestSerializer,
        responses={
            202: TransferSerializer,
            **error_responses(400, 401, 403, 404),
            409: conflict_response(
                "`transfer_pending` (one at a time), `agent_unavailable` (the agent "
                "is not online or has no room), `no_agent_available` (nobody free in the group), "
                "`not_active` or `session_ended`."
            ),
        },
        tags=["sessions"],
    )
    def post(self, request, session_id: str):
        found = _access(request, session_id).require(Act.TRANSFER)
        body = parse(TransferRequestSerializer, request.data)
        offer = session_transfer(
            session_id=found.session.pk,
            to_agent=body.get("to_agent"),
            to_group=body.get("to_group"),
            note=body.get("note"),
            by_agent=found.agent,
            staff=found.role == Role.STAFF,
        )
        return Response(selectors.transfer_dict(offer), status=202)


class SessionEndView(APIView):
    """End the session: by its agent, staff, or its customer."""

    authentication_classes = SESSION_AUTH
    permission_classes = [IsUserOrCustomer]

    @extend_schema(
        operation_id="sessions_end",
        parameters=SESSION_PATH,
        request=None,
        responses={200: SessionSerializer, **error_responses(401, 404, 409)},
        tags=["sessions"],
    )
    def post(self, request, session_id: str):
        found = _access(request, session_id).require(Act.END)
        reason = {
            Role.CUSTOMER: EndReason.CUSTOMER_ENDED,
            Role.HOLDER: EndReason.AGENT_ENDED,
            Role.STAFF: EndReason.STAFF_ENDED,
        }[found.role]
        ended = session_end(session_id=found.session.pk, reason=reason, agent=found.agent)
        return Response(selectors.session_dict(ended))
