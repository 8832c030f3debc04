"""Django's ASGI handler, with each request's sync code on a reused thread.

Django runs a request's sync code (middleware, DRF views, the ORM) in a thread-sensitive
context of its own, and asgiref gives each such context a new single-thread executor: a new
thread for every HTTP request, started on the event loop's thread (which waits until the new
thread is running) and joined there when the request ends. py-spy on a daphne under the issue's
load found a tenth of its event loop's time in submitting to and starting those threads,
when no push goes out. Here each request still gets a context of its own, so requests never queue
behind each other's database waits, but its executor comes from a pool and goes back to it.
"""

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler


class PooledThreadASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self._idle: list[ThreadPoolExecutor] = []  # one thread each, none running a request

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)  # Django refuses it there
        executor = self._idle.pop() if self._idle else self._new_executor()
        async with ThreadSensitiveContext(executor=executor):
            try:
                await self.handle(scope, receive, send)
            except BaseException:
                # Cancelled (the client left, say): its thread may still be running the
                # request's sync code, so it is not handed to the next request.
                executor.shutdown(wait=False)
                raise
        self._idle.append(executor)

    def _new_executor(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
