"""How the ASGI handler runs each HTTP request's sync code (contactcenter/handlers.py): on a
thread kept for the next request, never shared by two requests at once."""

import asyncio
import threading

from asgiref.testing import ApplicationCommunicator
from django.http import HttpResponse
from django.test import override_settings
from django.urls import path

from contactcenter.handlers import PooledThreadASGIHandler

release = threading.Event()
held_threads: list[int] = []


def which_thread(request):
    if request.GET.get("hold"):
        held_threads.append(threading.get_native_id())
        release.wait(5)  # as a request waiting on a row lock would
    return HttpResponse(str(threading.get_native_id()))


urlpatterns = [path("thread/", which_thread)]


def request(handler, query: str = "") -> ApplicationCommunicator:
    scope = {
        "type": "http", "method": "GET", "path": "/thread/", "query_string": query.encode(),
        "headers": [(b"host", b"localhost")], "server": ("localhost", 80),
    }  # fmt: skip
    return ApplicationCommunicator(handler, scope)


async def get(handler, query: str = "") -> int:
    app = request(handler, query)
    await app.send_input({"type": "http.request", "body": b""})
    start = await app.receive_output(10)
    assert start["status"] == 200
    body = await app.receive_output(10)
    await app.wait(5)
    return int(body["body"])


@override_settings(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["localhost"])
def test_requests_one_after_another_reuse_one_thread_and_concurrent_ones_do_not_share_it():
    handler = PooledThreadASGIHandler()
    release.clear()

    async def scenario():
        first = await get(handler)
        second = await get(handler)
        held = asyncio.ensure_future(get(handler, "hold=1"))
        await asyncio.sleep(0.3)
        meanwhile = await asyncio.wait_for(get(handler), 5)  # not queued behind the held one
        release.set()
        return first, second, await held, meanwhile

    first, second, held, meanwhile = asyncio.run(scenario())

    assert first == second  # no new thread per request
    assert meanwhile != held  # a request waiting in its sync code keeps its thread to itself


@override_settings(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["localhost"])
def test_a_cancelled_requests_thread_is_not_handed_to_the_next_request():
    """Its sync code may still be running: the next request must not queue behind it."""
    handler = PooledThreadASGIHandler()
    release.clear()
    held_threads.clear()

    async def scenario():
        app = request(handler, "hold=1")
        await app.send_input({"type": "http.request", "body": b""})
        await asyncio.sleep(0.3)
        app.future.cancel()  # the client went away, say, while its view still runs
        await asyncio.sleep(0.1)
        release.set()
        await asyncio.sleep(0.2)  # its view has returned by now
        return await get(handler)

    next_thread = asyncio.run(scenario())

    assert len(held_threads) == 1
    assert next_thread != held_threads[0]
