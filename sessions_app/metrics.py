"""Prometheus /metrics: desk state read from the database, push figures shared through Redis.

Nothing is kept only in one process: session, offer and timer figures come from the database
at scrape time (timer lateness from the `late_ms` the actions store on SessionEvent rows), and
push figures that any process records are summed in one Redis hash. So one scrape of any web
process shows the whole deployment, however many daphne and Celery processes run.
"""

import logging
import os
import threading
import time
from collections import defaultdict

from django.conf import settings
from django.db.models import Count, FloatField, Min, Q, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils import timezone

log = logging.getLogger(__name__)

PUSH_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
OVERLOAD_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
TIMER_LATENESS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
TIMER_KINDS = {"offer.expired": "offer_expiry", "session.idle_timeout": "idle_end"}
FLUSH_SECONDS = 1.0


def _key() -> str:
    return f"{settings.REDIS_PREFIX}:metrics"


# --- recording, from any process: accumulated here, added to Redis at most once a second ------


class _Recorder:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.pending: dict[str, float] = defaultdict(float)
        self.last_flush = time.monotonic()
        self.flushing = False
        self.client = None

    def add(self, field: str, amount: float) -> None:
        with self.lock:
            self.pending[field] += amount
            due = not self.flushing and time.monotonic() - self.last_flush >= FLUSH_SECONDS
            if due:
                self.flushing = True
        if due:
            # Off the caller's thread: a consumer's event loop must not wait on Redis.
            threading.Thread(target=self._flush_in_background, daemon=True).start()

    def _flush_in_background(self) -> None:
        try:
            self.flush()
        finally:
            self.flushing = False

    def flush(self) -> None:
        with self.lock:
            batch, self.pending = self.pending, defaultdict(float)
            self.last_flush = time.monotonic()
        if not batch:
            return
        try:
            if self.client is None:
                import redis

                self.client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
            pipe = self.client.pipeline(transaction=False)
            for field, amount in batch.items():
                pipe.hincrbyfloat(_key(), field, amount)
            pipe.execute()
        except Exception:  # noqa: BLE001 -- metrics never break the work; retried next flush
            with self.lock:
                for field, amount in batch.items():
                    self.pending[field] += amount
            log.warning("metrics flush to Redis failed; kept for the next one")


_recorder: _Recorder | None = None
_recorder_lock = threading.Lock()


def _rec() -> _Recorder:
    global _recorder
    if _recorder is None or _recorder.pid != os.getpid():
        with _recorder_lock:
            if _recorder is None or _recorder.pid != os.getpid():
                _recorder = _Recorder()
    return _recorder


def _observe(name: str, seconds: float, buckets: tuple) -> None:
    """One observation of a histogram shared by every process (see `_shared_histogram`)."""
    rec = _rec()
    for bound in buckets:
        if seconds <= bound:
            rec.add(f"{name}_le_{bound}", 1)
            break
    else:
        rec.add(f"{name}_le_inf", 1)
    rec.add(f"{name}_sum", seconds)


def observe_push_latency(seconds: float) -> None:
    """Time from an event's commit (`published_at`) to its hand-over to a socket or Redis."""
    _observe("push_latency", seconds, PUSH_LATENCY_BUCKETS)


def observe_loop_lag(seconds: float) -> None:
    """How late a web process's event loop ran a callback it had scheduled (core/overload.py)."""
    _observe("event_loop_lag", seconds, OVERLOAD_BUCKETS)


def observe_request_queue(seconds: float) -> None:
    """From a request's hand-over to the ASGI app to the start of its Django middleware."""
    _observe("request_queue", seconds, OVERLOAD_BUCKETS)


def observe_push_frame(frame: dict) -> None:
    """Record the latency of a frame stamped with `published_at` by push.publish."""
    published = frame.get("published_at")
    if isinstance(published, int | float):
        observe_push_latency(max(0.0, time.time() - published))


def count_push_dropped(n: int = 1) -> None:
    """A push that could not be handed to the channel layer."""
    _rec().add("push_dropped", n)


def count_push_resynced(n: int = 1) -> None:
    """A client saw a gap in `seq` and asked for a fresh snapshot (`sync`)."""
    _rec().add("push_resynced", n)


def count_supervisor_snapshot(n: int = 1) -> None:
    """A wallboard snapshot built by a ticker (at most one a second, however many watch)."""
    _rec().add("supervisor_snapshots", n)


def flush() -> None:
    """Send what this process recorded to Redis now (tests, shutdown)."""
    _rec().flush()


# --- reading, at scrape time ---------------------------------------------------------------


def _shared() -> dict[str, float]:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
    try:
        raw = client.hgetall(_key())
    finally:
        client.close()
    return {k.decode(): float(v) for k, v in raw.items()}


def _timer_lateness() -> dict[str, tuple[list[int], int, float]]:
    """Per timer kind: cumulative bucket counts, total count and sum (seconds)."""
    from .models import SessionEvent

    late_ms = Cast(KeyTextTransform("late_ms", "data"), FloatField())
    buckets = {
        f"b{i}": Count("pk", filter=Q(late__lte=bound * 1000))
        for i, bound in enumerate(TIMER_LATENESS_BUCKETS)
    }
    rows = (
        SessionEvent.objects.filter(kind__in=TIMER_KINDS)
        .annotate(late=late_ms)
        .values("kind")
        .annotate(n=Count("pk"), total=Sum("late"), **buckets)
    )
    found = {}
    for row in rows:
        buckets = [row[f"b{i}"] for i in range(len(TIMER_LATENESS_BUCKETS))]
        found[TIMER_KINDS[row["kind"]]] = (buckets, row["n"], (row["total"] or 0.0) / 1000)
    return found


def _shared_histogram(shared: dict, name: str, buckets: tuple) -> tuple[list, float]:
    """Cumulative (bound, count) pairs and the sum of a histogram `_observe` recorded."""
    cumulative, pairs = 0.0, []
    for bound in buckets:
        cumulative += shared.get(f"{name}_le_{bound}", 0.0)
        pairs.append((str(bound), cumulative))
    cumulative += shared.get(f"{name}_le_inf", 0.0)
    pairs.append(("+Inf", cumulative))
    return pairs, shared.get(f"{name}_sum", 0.0)


class DeskCollector:
    """Builds every series on each scrape."""

    def collect(self):
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        from agents_app.models import Agent, AgentStatus

        from .models import ChatSession, EndReason, Offer, SessionState

        now = timezone.now()
        by_state = dict(ChatSession.objects.values_list("state").annotate(n=Count("pk")).order_by())
        sessions = GaugeMetricFamily("cc_sessions", "Chat sessions by state.", labels=["state"])
        for state in SessionState.values:
            sessions.add_metric([state], by_state.get(state, 0))
        yield sessions

        queued = ChatSession.objects.filter(state=SessionState.QUEUED).aggregate(
            n=Count("pk"), oldest=Min("created_at")
        )
        yield GaugeMetricFamily("cc_queue_length", "Sessions waiting in the queue.", queued["n"])
        wait = (now - queued["oldest"]).total_seconds() if queued["oldest"] else 0.0
        yield GaugeMetricFamily(
            "cc_queue_oldest_wait_seconds", "How long the first session in line has waited.", wait
        )

        by_status = dict(Agent.objects.values_list("status").annotate(n=Count("pk")).order_by())
        agents = GaugeMetricFamily("cc_agents", "Agents by status.", labels=["status"])
        for status in AgentStatus.values:
            agents.add_metric([status], by_status.get(status, 0))
        yield agents

        offers = Offer.objects.aggregate(
            made=Count("pk"),
            accepted=Count("pk", filter=Q(outcome="accepted")),
            expired=Count("pk", filter=Q(outcome="expired")),
            withdrawn=Count("pk", filter=Q(outcome="withdrawn")),
        )
        for name, help_text in (
            ("made", "Offers made to agents."),
            ("accepted", "Offers accepted before they expired."),
            ("expired", "Offers that ran out and moved on."),
            ("withdrawn", "Offers withdrawn (agent left, session ended)."),
        ):
            yield CounterMetricFamily(f"cc_offers_{name}", help_text, offers[name])

        ended = dict(
            ChatSession.objects.filter(state=SessionState.ENDED)
            .values_list("end_reason")
            .annotate(n=Count("pk"))
            .order_by()
        )
        ends = CounterMetricFamily(
            "cc_sessions_ended", "Ended sessions by reason.", labels=["reason"]
        )
        for reason in EndReason.values:
            ends.add_metric([reason], ended.get(reason, 0))
        yield ends
        yield CounterMetricFamily(
            "cc_idle_ends",
            "Sessions the system ended because the customer stayed silent.",
            ended.get(EndReason.CUSTOMER_IDLE_TIMEOUT, 0),
        )

        lateness = HistogramMetricFamily(
            "cc_timer_lateness_seconds",
            "How long after its deadline a timer (offer expiry, idle end) was resolved.",
            labels=["timer"],
        )
        found = _timer_lateness()
        for timer in TIMER_KINDS.values():
            buckets, count, total = found.get(timer, ([0] * len(TIMER_LATENESS_BUCKETS), 0, 0.0))
            pairs = [(str(b), n) for b, n in zip(TIMER_LATENESS_BUCKETS, buckets, strict=True)]
            lateness.add_metric([timer], [*pairs, ("+Inf", count)], total)
        yield lateness

        shared = _shared()
        for name, buckets, help_text in (
            (
                "push_latency",
                PUSH_LATENCY_BUCKETS,
                "From the commit that caused a live event to its hand-over for delivery.",
            ),
            (
                "event_loop_lag",
                OVERLOAD_BUCKETS,
                "How late the web processes' event loops ran what they had scheduled: past "
                "the knee, this grows first.",
            ),
            (
                "request_queue",
                OVERLOAD_BUCKETS,
                "From a request's hand-over to the web app to the start of its handling.",
            ),
        ):
            histogram = HistogramMetricFamily(f"cc_{name}_seconds", help_text)
            histogram.add_metric([], *_shared_histogram(shared, name, buckets))
            yield histogram
        yield CounterMetricFamily(
            "cc_push_dropped", "Live events that could not be sent.", shared.get("push_dropped", 0)
        )
        yield CounterMetricFamily(
            "cc_push_resynced",
            "Snapshots re-sent because a client saw a gap in seq.",
            shared.get("push_resynced", 0),
        )
        yield CounterMetricFamily(
            "cc_supervisor_snapshots",
            "Wallboard snapshots built for supervisor.updated (one a second at most, for all).",
            shared.get("supervisor_snapshots", 0),
        )


# --- the endpoint --------------------------------------------------------------------------


def _allowed(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    if request.headers.get("Authorization", "").startswith("Token "):
        from rest_framework.exceptions import AuthenticationFailed

        from core.tokens import ExpiringTokenAuthentication as TokenAuthentication

        try:
            found = TokenAuthentication().authenticate(request)
        except AuthenticationFailed:
            found = None
        if found and found[0].is_staff:
            return True
    allowed = os.environ.get("METRICS_ALLOW_IPS", "127.0.0.1")
    return request.META.get("REMOTE_ADDR", "") in {ip.strip() for ip in allowed.split(",")}


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for staff or an address in METRICS_ALLOW_IPS."""
    if not _allowed(request):
        return JsonResponse(
            {"detail": "Metrics are for staff or allow-listed addresses.", "code": "forbidden"},
            status=403,
        )
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeskCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


# Included from the root URLconf with path("", include("sessions_app.metrics")).
urlpatterns = [path("metrics", metrics_view, name="metrics")]
