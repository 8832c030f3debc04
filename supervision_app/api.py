"""REST views for supervisors: the wallboard's snapshot and the two reports (JSON or CSV)."""

import csv
import io
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from agents_app.selectors import service_settings
from core.api import USER_AUTH, error_responses
from core.errors import Invalid, NotFound
from core.roles import IsSupervisor
from skills_app.models import SkillGroup

from .reports import (
    AGENT_FIELDS,
    BUCKETS,
    MAX_DAYS,
    MAX_HOUR_DAYS,
    SUMMARY_FIELDS,
    agents_report,
    summary_report,
)
from .snapshot import build_snapshot

DEFAULT_DAYS = 7


class FiguresSerializer(serializers.Serializer):
    queued = serializers.IntegerField()
    offered = serializers.IntegerField()
    active = serializers.IntegerField()
    longest_wait_seconds = serializers.FloatField(allow_null=True)
    service_level = serializers.FloatField(
        allow_null=True, help_text="Today's share served within the target; null: none served."
    )
    missed_offers_30m = serializers.IntegerField()
    abandoned_30m = serializers.IntegerField()


class GroupFiguresSerializer(FiguresSerializer):
    id = serializers.CharField()
    name = serializers.CharField()


class SnapshotAgentSerializer(serializers.Serializer):
    id = serializers.CharField()
    display_name = serializers.CharField()
    status = serializers.CharField()
    status_reason = serializers.CharField(allow_null=True)
    status_since = serializers.DateTimeField()
    load = serializers.IntegerField()
    capacity = serializers.IntegerField()
    skill_groups = serializers.ListField(child=serializers.CharField())


class WaitingSerializer(serializers.Serializer):
    session_id = serializers.CharField()
    customer_name = serializers.CharField()
    skill_group_id = serializers.CharField(allow_null=True)
    state = serializers.ChoiceField(choices=["queued", "offered"])
    waiting_seconds = serializers.FloatField()


class ActiveSerializer(serializers.Serializer):
    session_id = serializers.CharField()
    customer_name = serializers.CharField()
    skill_group_id = serializers.CharField(allow_null=True)
    agent_id = serializers.CharField()
    serving_seconds = serializers.FloatField(help_text="Since its agent accepted it.")


class SnapshotSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    service_level_seconds = serializers.IntegerField(help_text="Extension: the target used.")
    totals = FiguresSerializer()
    groups = GroupFiguresSerializer(many=True)
    agents = SnapshotAgentSerializer(many=True)
    waiting = WaitingSerializer(many=True, help_text="The longest-waiting first (at most 1000).")
    active = ActiveSerializer(
        many=True, help_text="Extension: the chats being served, longest first (at most 2000)."
    )


class SnapshotView(APIView):
    authentication_classes = USER_AUTH
    permission_classes = [IsSupervisor]

    @extend_schema(
        operation_id="supervisor_snapshot",
        summary="The wallboard's figures now",
        description=(
            "Supervisors: per skill group and in total, the chats queued, offered and active, "
            "the longest current wait, today's service level, the missed offers and abandoned "
            "chats of the last 30 minutes; every agent with status, load and capacity; the "
            "waiting chats. `/ws/supervisor/` pushes the same object live."
        ),
        responses={200: SnapshotSerializer, **error_responses(401, 403)},
        tags=["supervision"],
    )
    def get(self, request):
        return Response(build_snapshot())


# --- reports ------------------------------------------------------------------------------------


EARLIEST, LATEST = date(1970, 1, 2), date(9000, 12, 31)  # any desk's history, with room


def _date(value: str | None, name: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        found = date.fromisoformat(value)
    except (TypeError, ValueError):
        raise Invalid(f"{name}: give a date as YYYY-MM-DD.", field=name) from None
    if not EARLIEST <= found <= LATEST:
        raise Invalid(f"{name}: a date from {EARLIEST} to {LATEST}.", field=name)
    return found


def report_range(params) -> tuple[date, date]:
    """`from` and `to` (both included, in the settings' time zone); default the last 7 days."""
    today = timezone.now().astimezone(ZoneInfo(service_settings().timezone)).date()
    date_to = _date(params.get("to"), "to") or today
    date_from = _date(params.get("from"), "from") or max(
        date_to - timedelta(days=DEFAULT_DAYS - 1), EARLIEST
    )
    if date_from > date_to:
        raise Invalid("from is after to.", field="from")
    if (date_to - date_from).days + 1 > MAX_DAYS:
        raise Invalid(f"At most {MAX_DAYS} days at once.", field="from", code="range_too_long")
    return date_from, date_to


class CSVRenderer(BaseRenderer):
    """`?format=csv`: a table (`{"header": [...], "rows": [[...]]}`) as a CSV download."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(data["header"])
        for row in data["rows"]:
            writer.writerow([_cell(value) for value in row])
        return out.getvalue().encode(self.charset)


RENDERERS = [JSONRenderer, CSVRenderer]


def _csv(request) -> bool:
    return getattr(request.accepted_renderer, "format", None) == "csv"


class ReportView(APIView):
    """A report: JSON, or CSV with `?format=csv`; its errors are JSON either way."""

    authentication_classes = USER_AUTH
    permission_classes = [IsSupervisor]
    renderer_classes = RENDERERS

    def perform_content_negotiation(self, request, force=False):
        # DRF answers an unknown `?format=` with a 404; here it is a bad parameter.
        if not force and request.query_params.get("format", "json") not in ("json", "csv"):
            raise Invalid("format: json or csv.", field="format")
        return super().perform_content_negotiation(request, force)

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response


def _cell(value):
    """A cell a spreadsheet shows as text: a name starting with = + - @ is not a formula."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_response(filename: str, header: list[str], rows: list[list]) -> Response:
    """The table for the CSV renderer, as a download (never shown inline)."""
    disposition = f'attachment; filename="{filename}"'
    return Response({"header": header, "rows": rows}, headers={"Content-Disposition": disposition})


RANGE_PARAMETERS = [
    OpenApiParameter(
        "from", OpenApiTypes.DATE, description="First day (YYYY-MM-DD), default 6 days before to."
    ),
    OpenApiParameter(
        "to",
        OpenApiTypes.DATE,
        description="Last day, included (default: today), in the settings' time zone.",
    ),
    OpenApiParameter("format", str, enum=["json", "csv"], description="csv: a download."),
]


class BucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="The bucket's start, in the settings' zone.")
    created = serializers.IntegerField()
    served = serializers.IntegerField()
    abandoned = serializers.IntegerField(help_text="Ended by the customer before being served.")
    idle_ended = serializers.IntegerField()
    timed_out = serializers.IntegerField(help_text="Extension: ended by the queue timeout.")
    wait_p50 = serializers.FloatField(allow_null=True)
    wait_p90 = serializers.FloatField(allow_null=True)
    handle_avg = serializers.FloatField(allow_null=True)
    rating_avg = serializers.FloatField(allow_null=True)
    rating_count = serializers.IntegerField()


class SummarySerializer(serializers.Serializer):
    # "from" is a Python keyword: declared below.
    to = serializers.DateField()
    bucket = serializers.ChoiceField(choices=BUCKETS)
    group = serializers.CharField(allow_null=True)
    timezone = serializers.CharField(help_text="Extension: the zone of the days and hours.")
    buckets = BucketSerializer(many=True)


SummarySerializer._declared_fields["from"] = serializers.DateField()


class SummaryReportView(ReportView):
    @extend_schema(
        operation_id="report_summary",
        summary="Volumes, waits, handle times and ratings by hour or day",
        description=(
            "Supervisors: for each hour or day of the range, the chats created in it and what "
            "became of them (served, abandoned, idle-ended, timed out), the served chats' wait "
            "percentiles and mean handle time, and their ratings (on today's scale). Hour "
            f"buckets cover at most {MAX_HOUR_DAYS} days. `format=csv` downloads one row per "
            "bucket with the same names as header."
        ),
        parameters=[
            *RANGE_PARAMETERS,
            OpenApiParameter("group", str, description="A skill group's id: its chats only."),
            OpenApiParameter("bucket", str, enum=list(BUCKETS), description="Default: day."),
        ],
        responses={200: SummarySerializer, **error_responses(400, 401, 403, 404)},
        tags=["supervision"],
    )
    def get(self, request):
        params = request.query_params
        as_csv = _csv(request)
        date_from, date_to = report_range(params)
        bucket = params.get("bucket") or "day"
        if bucket not in BUCKETS:
            raise Invalid("bucket: hour or day.", field="bucket")
        if bucket == "hour" and (date_to - date_from).days + 1 > MAX_HOUR_DAYS:
            raise Invalid(
                f"Hour buckets cover at most {MAX_HOUR_DAYS} days.",
                field="bucket",
                code="range_too_long",
            )
        group_id = _group(params.get("group"))
        report = summary_report(
            date_from=date_from, date_to=date_to, bucket=bucket, group_id=group_id
        )
        if not as_csv:
            return Response(report)
        header = ["start", *SUMMARY_FIELDS]
        rows = [[b[name] for name in header] for b in report["buckets"]]
        return csv_response(f"summary-{date_from}-{date_to}-{bucket}.csv", header, rows)


def _group(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    try:
        group_id = int(value)
    except (TypeError, ValueError):
        raise NotFound("No such skill group.") from None
    if not SkillGroup.objects.filter(pk=group_id).exists():
        raise NotFound("No such skill group.")
    return group_id


class AgentRefSerializer(serializers.Serializer):
    id = serializers.CharField()
    display_name = serializers.CharField()


class AgentFiguresSerializer(serializers.Serializer):
    agent = AgentRefSerializer()
    served = serializers.IntegerField(help_text="Chats created in the range this agent served.")
    missed_offers = serializers.IntegerField(help_text="Offers that expired unanswered.")
    declined = serializers.IntegerField()
    transfers_out = serializers.IntegerField(help_text="Chats this agent handed on (accepted).")
    handle_avg = serializers.FloatField(allow_null=True)
    rating_avg = serializers.FloatField(allow_null=True)
    online_seconds = serializers.IntegerField()
    away_seconds = serializers.IntegerField()


class AgentsReportSerializer(serializers.Serializer):
    to = serializers.DateField()
    agents = AgentFiguresSerializer(many=True)


AgentsReportSerializer._declared_fields["from"] = serializers.DateField()


class AgentsReportView(ReportView):
    @extend_schema(
        operation_id="report_agents",
        summary="Per agent: chats served, missed offers, handle time, ratings, time online",
        description=(
            "Supervisors: for each agent with anything in the range, the chats served and the "
            "mean handle time, routing offers missed (expired) and declined, transfers handed "
            "on, the mean rating, and the seconds spent online and away. `format=csv` "
            "downloads one row per agent."
        ),
        parameters=RANGE_PARAMETERS,
        responses={200: AgentsReportSerializer, **error_responses(400, 401, 403)},
        tags=["supervision"],
    )
    def get(self, request):
        as_csv = _csv(request)
        date_from, date_to = report_range(request.query_params)
        report = agents_report(date_from=date_from, date_to=date_to)
        if not as_csv:
            return Response(report)
        header = ["agent_id", "display_name", *AGENT_FIELDS]
        rows = [
            [a["agent"]["id"], a["agent"]["display_name"], *(a[name] for name in AGENT_FIELDS)]
            for a in report["agents"]
        ]
        return csv_response(f"agents-{date_from}-{date_to}.csv", header, rows)
