"""The delivery worker: sends pending deliveries, signed, and decides what happens next.

One pump (`pump()`, run by the Celery task `webhooks_pump_task` on its own queue, one at a
time by a Redis lock) claims due deliveries with a lease and sends them concurrently over one
`httpx.AsyncClient` per webhook (its connections kept alive between deliveries; a pool no
bigger than what the webhook may have in flight). Each webhook has at most
`WEBHOOK_CONCURRENCY` requests in flight and the pump claims for a webhook only what it has
room for: a slow endpoint fills its own slots and waits, the others go on at their pace.

- 2xx: delivered. Timeouts (`WEBHOOK_TIMEOUT_SECONDS`, 10), connection errors, 429 and 5xx:
  tried again after `WEBHOOK_BACKOFF_SECONDS` × 2^(attempt-1) (± 20 % jitter), 8 attempts in
  all; any other status fails at once. A failure after the last attempt fails the delivery.
- 50 deliveries failed in a row turn the webhook off (`disabled_reason` says why); one
  delivered resets the count.
- A lease (`leased_until`) outlives the timeout: a pump killed mid-send leaves its deliveries
  leased, and when the lease runs out the next pump sends them again with the same
  `X-Desk-Delivery` (at least once).
- The URL is checked (webhooks_app/guard.py) before every attempt; redirects are not followed.
"""

import asyncio
import hashlib
import hmac
import json
import logging
import random
import time
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import httpx
from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, transaction
from django.db.models import F
from django.utils import timezone

from core import sql

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BREAKER = 50  # failed deliveries in a row that turn a webhook off
RESPONSE_KEEP = 1024  # bytes of a response kept for the delivery log
PUMP_LOCK = "webhooks:pump"
WAKE_KEY = "webhooks:wake"
TASK = "webhooks_app.tasks.webhooks_pump_task"


def lease() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + 10)


def backoff(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`, with jitter."""
    base = settings.WEBHOOK_BACKOFF_SECONDS * 2 ** (attempts - 1)
    return base * random.uniform(0.8, 1.2)  # noqa: S311 -- jitter, not a secret


def body_of(event) -> bytes:
    """The request body: the event as the contract shows it (the same on every attempt)."""
    document = {
        "id": str(event.id),
        "type": event.type,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def headers_for(delivery_id, event_type: str, secret: str, body: bytes, now: float) -> dict:
    stamp = int(now)
    return {
        "Content-Type": "application/json",
        "User-Agent": "contact-center-desk-webhooks/1",
        "X-Desk-Event": event_type,
        "X-Desk-Delivery": str(delivery_id),
        "X-Desk-Timestamp": str(stamp),
        "X-Desk-Signature": signature(secret, stamp, body),
    }


# --- waking the worker --------------------------------------------------------------------------


def wake_channel() -> str:
    return f"{settings.REDIS_PREFIX}:webhooks:wake"


_publisher: dict = {}


def _redis():
    import redis

    client = _publisher.get("client")
    if client is None:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
        _publisher["client"] = client
    return client


def wake() -> None:
    """After a commit that wrote deliveries: a running pump hears it at once (Redis pub/sub)
    and claims them; with none listening, one is started. Never raises: the beat's trigger
    covers a lost wake."""
    try:
        if _redis().publish(wake_channel(), b"1"):
            return  # a pump is listening
        if not cache.add(WAKE_KEY, 1, timeout=1):
            return  # one was started within the last second: it will find these rows
        from celery import current_app

        current_app.send_task(TASK, queue=settings.WEBHOOK_QUEUE)
    except Exception:  # noqa: BLE001 -- see the docstring
        log.warning("could not wake the webhook worker", exc_info=True)


# --- the database side (run in the pump's database thread) -------------------------------------


@dataclass
class Claimed:
    id: object
    webhook_id: int
    url: str
    secret: str
    event_type: str
    body: bytes
    attempts: int


_active: dict = {"at": None, "hooks": {}}


def _active_hooks() -> dict[int, tuple[str, str]]:
    """id -> (url, secret) of the active webhooks, read at most once a second by a pump (a
    change reaches the next attempts within that second)."""
    from .models import Webhook

    now = time.monotonic()
    if _active["at"] is None or now - _active["at"] >= 1.0:
        rows = Webhook.objects.filter(is_active=True).values_list("pk", "url", "secret")
        _active.update(at=now, hooks={pk: (url, secret) for pk, url, secret in rows})
    return _active["hooks"]


def claim(held: dict[int, int] | None, limit: int) -> list[Claimed]:
    """Lease due deliveries of active webhooks: for each, as many as it has room for beside
    the ones it `held` (in flight or waiting their turn in the pump: twice
    `WEBHOOK_CONCURRENCY` at most, so a slot that frees is filled at once), `limit` in all.
    One statement per webhook (select, skip what another holds, lease, return), then one for
    the events' bodies."""
    from .models import Delivery, OutboxEvent

    hooks = _active_hooks()
    table = Delivery._meta.db_table
    now = timezone.now()
    at, until = (sql.db_value(Delivery, "leased_until", t) for t in (now, now + lease()))
    found: list[tuple] = []
    for webhook_id in hooks:
        free = min(
            2 * settings.WEBHOOK_CONCURRENCY - (held or {}).get(webhook_id, 0), limit - len(found)
        )
        if free <= 0:
            continue
        found += sql.rows(
            f"WITH due AS (SELECT id FROM {table} WHERE webhook_id = %s AND status = 'pending'"
            " AND next_attempt_at <= %s AND (leased_until IS NULL OR leased_until < %s)"
            f" ORDER BY next_attempt_at LIMIT %s{sql.lock_clause('FOR UPDATE SKIP LOCKED')})"
            f" UPDATE {table} SET leased_until = %s WHERE id IN (SELECT id FROM due)"
            " RETURNING id, webhook_id, event_id, event_type, attempts",
            [webhook_id, at, at, free, until],
        )
    if not found:
        return []
    events = {e.pk: e for e in OutboxEvent.objects.filter(pk__in={row[2] for row in found})}
    claimed = []
    for pk, webhook_id, event_id, event_type, attempts in found:
        url, secret = hooks[webhook_id]
        event = events[_uuid(event_id)]
        claimed.append(
            Claimed(_uuid(pk), webhook_id, url, secret, event_type, body_of(event), attempts)
        )
    return claimed


def _uuid(value):
    import uuid

    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def release(ids: list) -> None:
    from .models import Delivery

    Delivery.objects.filter(pk__in=ids).update(leased_until=None)


def soonest_due() -> float | None:
    """Seconds until the next pending delivery of an active webhook is due (0 if one is)."""
    from .models import Delivery, DeliveryStatus

    found = (
        Delivery.objects.filter(status=DeliveryStatus.PENDING, webhook__is_active=True)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", "leased_until")
        .first()
    )
    if found is None:
        return None
    due = max(d for d in found if d is not None)
    return max(0.0, (due - timezone.now()).total_seconds())


@dataclass
class Outcome:
    claimed: Claimed
    status_code: int | None
    error: str
    response: str
    retry: bool  # a failure worth another attempt


def settle(outcomes: list[Outcome]) -> None:
    """Write what the attempts gave: delivered (all in one statement), due again later, or
    failed (and the webhooks' runs of failures, the breaker)."""
    from .models import Delivery, DeliveryStatus, Webhook

    now = timezone.now()
    failed_by_hook: dict[int, list[Outcome]] = defaultdict(list)
    delivered = [o for o in outcomes if o.status_code is not None and 200 <= o.status_code < 300]
    with transaction.atomic():
        _settle_delivered(delivered, now)
        done = {id(o) for o in delivered}
        for outcome in outcomes:
            if id(outcome) in done:
                continue
            attempts = outcome.claimed.attempts + 1
            fields = {
                "attempts": attempts,
                "leased_until": None,
                "last_status_code": outcome.status_code,
                "last_error": outcome.error[:500],
                "response_body": outcome.response,
            }
            if outcome.retry and attempts < MAX_ATTEMPTS:
                fields["next_attempt_at"] = now + timedelta(seconds=backoff(attempts))
            else:
                fields.update(status=DeliveryStatus.FAILED, finished_at=now, next_attempt_at=None)
                failed_by_hook[outcome.claimed.webhook_id].append(outcome)
            # Only a delivery still pending is written: a redelivery asked meanwhile stands.
            Delivery.objects.filter(pk=outcome.claimed.id, status=DeliveryStatus.PENDING).update(
                **fields
            )
        hooks = {o.claimed.webhook_id for o in delivered}
        if hooks:
            Webhook.objects.filter(pk__in=hooks, failures_in_a_row__gt=0).update(
                failures_in_a_row=0
            )
        for webhook_id, failed in failed_by_hook.items():
            _count_failures(Webhook, webhook_id, failed, now)


def _settle_delivered(delivered: list[Outcome], now) -> None:
    """Every delivered one in one UPDATE (a busy endpoint gets hundreds a second)."""
    from .models import Delivery

    if not delivered:
        return
    table = Delivery._meta.db_table
    at = sql.db_value(Delivery, "delivered_at", now)
    rows = ", ".join(["(%s, %s, %s)"] * len(delivered))
    params = []
    for o in delivered:
        params += [sql.db_value(Delivery, "id", o.claimed.id), o.status_code, o.response]
    cast = "::uuid" if sql.is_postgres() else ""
    sql.execute(
        f"UPDATE {table} SET status = 'delivered', attempts = attempts + 1, "
        f"leased_until = NULL, last_status_code = v.code, last_error = '', "
        f"response_body = v.body, delivered_at = %s, finished_at = %s "
        f"FROM (VALUES {rows}) AS v(id, code, body) "
        f"WHERE {table}.id = v.id{cast} AND {table}.status = 'pending'",
        [at, at, *params],
    )


def _count_failures(Webhook, webhook_id: int, failed: list, now) -> None:  # noqa: N803
    hook = Webhook.objects.select_for_update().filter(pk=webhook_id).first()
    if hook is None:
        return
    hook.failures_in_a_row = F("failures_in_a_row") + len(failed)
    hook.save(update_fields=["failures_in_a_row"])
    hook.refresh_from_db(fields=["failures_in_a_row", "is_active"])
    if hook.is_active and hook.failures_in_a_row >= BREAKER:
        last = failed[-1]
        why = f"HTTP {last.status_code}" if last.status_code else last.error or "no answer"
        hook.is_active = False
        hook.disabled_reason = (
            f"Turned off at {now:%Y-%m-%d %H:%M:%S} UTC after {hook.failures_in_a_row} "
            f"failed deliveries in a row (the last: {why[:120]})."
        )
        hook.save(update_fields=["is_active", "disabled_reason"])
        _active["at"] = None  # this pump stops claiming for it at once
        log.warning("webhook %s turned off: %s", webhook_id, hook.disabled_reason)
        from .outbox import forget_subscriptions

        forget_subscriptions()


# --- one attempt ---------------------------------------------------------------------------------


_CHECKED: dict[str, tuple[float, str | None]] = {}  # URL -> (when, the public address found)
_CHECK_FOR = 1.0  # seconds a check stands: one resolution per endpoint per second, not per POST


async def _checked(url: str, loop) -> str | None:
    """The guard's check, resolving the host off the event loop, at most once a second per
    URL (a burst to one endpoint resolves it once); the address to connect to."""
    from . import guard

    if settings.WEBHOOK_ALLOW_PRIVATE:
        return guard.check(url)  # the shape only: nothing to resolve
    now = time.monotonic()
    when, address = _CHECKED.get(url, (-_CHECK_FOR, None))
    if now - when < _CHECK_FOR:
        return address
    address = await loop.run_in_executor(None, guard.check, url)
    if len(_CHECKED) > 10_000:
        _CHECKED.clear()
    _CHECKED[url] = (now, address)
    return address


async def attempt(client: httpx.AsyncClient, claimed: Claimed, loop) -> Outcome:
    from . import guard

    try:
        address = await _checked(claimed.url, loop)
    except guard.Refused as exc:
        return Outcome(claimed, None, f"refused: {exc}", "", retry=False)
    headers = headers_for(claimed.id, claimed.event_type, claimed.secret, claimed.body, time.time())
    # To the address just checked, not to whatever the name resolves to a moment later.
    url, host, extensions = guard.pinned(claimed.url, address)
    try:
        response = await client.post(
            url, content=claimed.body, headers={**headers, **host}, extensions=extensions
        )
    except httpx.TimeoutException:
        timeout = settings.WEBHOOK_TIMEOUT_SECONDS
        return Outcome(claimed, None, f"timed out after {timeout:g} s", "", retry=True)
    except httpx.HTTPError as exc:
        return Outcome(claimed, None, f"{type(exc).__name__}: {exc}"[:500], "", retry=True)
    code = response.status_code
    kept = response.content[:RESPONSE_KEEP].decode("utf-8", errors="replace")
    retry = code == 429 or code >= 500
    error = "" if 200 <= code < 300 else f"HTTP {code}"
    if 300 <= code < 400:
        error = f"HTTP {code} (redirects are not followed)"
    return Outcome(claimed, code, error, kept, retry=retry)


# --- the pump ----------------------------------------------------------------------------------


class _Database:
    """The pump's one thread for the ORM (a connection of its own, kept across calls)."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhooks-db")

    async def run(self, func, *args):
        return await asyncio.get_running_loop().run_in_executor(self.pool, self._call, func, args)

    @staticmethod
    def _call(func, args):
        close_old_connections()
        return func(*args)

    def close(self) -> None:
        def closing():
            from django.db import connections

            connections.close_all()

        self.pool.submit(closing).result()
        self.pool.shutdown()


class _Clients:
    """One httpx client per webhook: its own small pool of kept-alive connections (one pool
    for all made httpcore scan hundreds of connections on every request)."""

    def __init__(self) -> None:
        self.found: dict[int, httpx.AsyncClient] = {}

    def of(self, webhook_id: int) -> httpx.AsyncClient:
        client = self.found.get(webhook_id)
        if client is None:
            size = settings.WEBHOOK_CONCURRENCY
            client = httpx.AsyncClient(
                timeout=httpx.Timeout(settings.WEBHOOK_TIMEOUT_SECONDS),
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                follow_redirects=False,
            )
            self.found[webhook_id] = client
        return client

    async def close(self) -> None:
        for client in self.found.values():
            await client.aclose()


SETTLE_EVERY = 0.02  # seconds: outcomes are written in batches at most this often


async def pump(*, idle_seconds: float = 1.0, poll_seconds: float = 0.25, keep_alive=None) -> int:
    """Send until nothing is due or in flight for `idle_seconds`; returns how many attempts.
    `keep_alive()`: called now and then while running (the task refreshes its lock).

    The database is asked for more only when it may have some for us: woken by a commit, an
    endpoint's queue running low, or the poll; outcomes are written in batches. (Asking at
    every finished request cost more CPU than the requests themselves.)"""
    state = _Pump(asyncio.get_running_loop())
    listener = asyncio.get_running_loop().create_task(_listen(state.woken))
    idle_since = time.monotonic()
    last_alive = last_settle = 0.0
    last_claim = -poll_seconds
    try:
        while True:
            now = time.monotonic()
            if keep_alive is not None and now - last_alive > 2:
                keep_alive()
                last_alive = now
            if state.finished and (len(state.finished) >= 64 or now - last_settle >= SETTLE_EVERY):
                done, state.finished = state.finished, []
                await state.db.run(settle, done)
                last_settle = time.monotonic()
            woken = state.woken.is_set()
            state.woken.clear()
            claimed = []
            if woken or state.hungry() or now - last_claim >= poll_seconds:
                claimed = await state.db.run(claim, state.held(), settings.WEBHOOK_CLAIM_BATCH)
                last_claim = time.monotonic()
                state.take(claimed)
            if claimed or state.running or state.finished or state.queued():
                idle_since = time.monotonic()
            elif now - idle_since >= idle_seconds:
                # Nothing to do: wait on for a retry due soon, else leave it to beat.
                wait = await state.db.run(soonest_due)
                if wait is None or wait > settings.WEBHOOK_PUMP_SECONDS * 2:
                    break
                idle_since = time.monotonic()
            # Until one finishes, new deliveries are committed, or the next poll (or, with
            # outcomes to write, the next batch).
            timeout = SETTLE_EVERY if state.finished else poll_seconds
            waker = asyncio.ensure_future(state.woken.wait())
            await asyncio.wait(
                {waker, *state.running}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            waker.cancel()
    finally:
        listener.cancel()
        await state.close()
    return state.sent


async def _listen(woken: asyncio.Event) -> None:
    """Set `woken` whenever a commit wrote deliveries (wake()). Without Redis, polling does."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(wake_channel())
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    woken.set()
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 -- the poll still finds everything, later
        log.warning("the webhook pump cannot listen for wakes; polling only", exc_info=True)
    finally:
        await client.aclose()


class _Pump:
    """What one pump holds: per webhook the deliveries it leased and has not sent yet, and how
    many it has in flight; a slot that frees starts the next at once, with no query."""

    def __init__(self, loop) -> None:
        self.loop = loop
        self.db = _Database()
        self.clients = _Clients()
        self.waiting: dict[int, deque] = defaultdict(deque)
        self.in_flight: dict[int, int] = defaultdict(int)
        self.running: set[asyncio.Task] = set()
        self.finished: list[Outcome] = []
        self.sent = 0
        self.woken = asyncio.Event()
        self.dry: set[int] = set()  # endpoints the last look found nothing more for

    def held(self) -> dict[int, int]:
        return {pk: self.in_flight[pk] + len(q) for pk, q in self.waiting.items()}

    def hungry(self) -> bool:
        """An endpoint's queue is half gone, and the last look found it some: fetch more in
        one go (one that came back empty waits for a wake or the poll)."""
        low = settings.WEBHOOK_CONCURRENCY // 2
        return any(len(queue) <= low and pk not in self.dry for pk, queue in self.waiting.items())

    def queued(self) -> bool:
        return any(self.waiting.values())

    def take(self, claimed: list[Claimed]) -> None:
        got = {item.webhook_id for item in claimed}
        self.dry = {pk for pk in self.waiting if pk not in got}
        for item in claimed:
            self.waiting[item.webhook_id].append(item)
        for webhook_id in {item.webhook_id for item in claimed}:
            self.start(webhook_id)

    def start(self, webhook_id: int) -> None:
        queue = self.waiting[webhook_id]
        while queue and self.in_flight[webhook_id] < settings.WEBHOOK_CONCURRENCY:
            item = queue.popleft()
            self.in_flight[webhook_id] += 1
            self.sent += 1
            client = self.clients.of(webhook_id)
            task = self.loop.create_task(attempt(client, item, self.loop))
            self.running.add(task)
            task.add_done_callback(lambda t, item=item: self.done(t, item))

    def done(self, task: asyncio.Task, item: Claimed) -> None:
        self.running.discard(task)
        self.in_flight[item.webhook_id] -= 1
        if not task.cancelled():
            error = task.exception()
            if error is not None:
                why = f"{type(error).__name__}: {error}"
                self.finished.append(Outcome(item, None, why, "", retry=True))
            else:
                self.finished.append(task.result())
        self.start(item.webhook_id)

    async def close(self) -> None:
        unsent = [item.id for queue in self.waiting.values() for item in queue]
        if unsent:  # leased, never sent: free for the next pump at once
            await self.db.run(release, unsent)
        if self.running:
            await asyncio.gather(*self.running, return_exceptions=True)
        if self.finished:
            await self.db.run(settle, self.finished)
        self.db.close()
        await self.clients.close()


def run_pump(**options) -> int:
    """One pump at a time, by a Redis lock refreshed while it runs (a pump killed by a signal
    lets the lock lapse in a few seconds). Returns how many attempts it made."""
    token = f"{time.time()}-{random.random()}"  # noqa: S311
    if not cache.add(PUMP_LOCK, token, timeout=10):
        return 0

    def keep_alive() -> None:
        cache.set(PUMP_LOCK, token, timeout=10)

    try:
        return asyncio.run(pump(keep_alive=keep_alive, **options))
    finally:
        if cache.get(PUMP_LOCK) == token:
            cache.delete(PUMP_LOCK)
