"""Signs that a web process is past its knee, for /metrics (sessions_app/metrics.py).

Two figures grow first when a daphne has more work than CPU: its event loop runs what it
scheduled late (every socket's frames and every request wait in that line), and a request
waits between its hand-over to the app and the start of its handling (the hand-over to a
request thread, and the GIL shared with the loop). Latencies measured by a client grow too,
but a client cannot tell a slow desk from a slow network; these are measured inside.

- `WatchOverload`, the outermost ASGI app: stamps each connection's arrival in its scope and,
  once per event loop, starts `watch_loop`.
- `RequestQueueMiddleware`, the first Django middleware: observes the time since that stamp.
"""

import asyncio
import time
import weakref

from django.conf import settings

from sessions_app import metrics

SCOPE_KEY = "cc.received_at"  # time.monotonic() when the app was handed the connection

_watching: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task]" = (
    weakref.WeakKeyDictionary()
)


async def watch_loop(interval: float) -> None:
    """Forever: sleep `interval` and record how much later than that the loop woke us."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + interval
        await asyncio.sleep(interval)
        metrics.observe_loop_lag(max(0.0, loop.time() - due))


def watch_this_loop() -> None:
    """Start `watch_loop` on the running loop unless it runs there already (the task is kept
    here: the loop holds only a weak reference to it)."""
    loop = asyncio.get_running_loop()
    task = _watching.get(loop)
    if task is None or task.done():
        _watching[loop] = loop.create_task(watch_loop(settings.LOOP_LAG_INTERVAL_SECONDS))


class WatchOverload:
    """ASGI middleware: see the module's docstring."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if settings.LOOP_LAG_INTERVAL_SECONDS > 0:
            watch_this_loop()
        scope[SCOPE_KEY] = time.monotonic()
        return await self.app(scope, receive, send)


class RequestQueueMiddleware:
    """Django middleware, first: the time a request waited before Django started on it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        received = getattr(request, "scope", {}).get(SCOPE_KEY)
        if received is not None:  # ASGI (daphne); the test client has no scope
            metrics.observe_request_queue(max(0.0, time.monotonic() - received))
        return self.get_response(request)
