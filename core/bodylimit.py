"""Refuse a request body over MAX_REQUEST_BYTES before it is read: 413 with JSON.

Django's ASGI handler reads the whole body before any middleware runs: a 100 MB POST was read
in full, then refused with an HTML 400, and left the daphne 95 MB bigger. This sits in front
of it: a `Content-Length` over the limit is answered at once, and a body without one (chunked)
is counted as it arrives and refused as soon as it passes the limit.
"""

import json

from django.conf import settings


async def _refuse(send, limit: int) -> None:
    body = json.dumps(
        {"detail": f"The request body is larger than {limit} bytes.", "code": "too_large"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware for HTTP: bodies of at most MAX_REQUEST_BYTES."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.application(scope, receive, send)
        limit = settings.MAX_REQUEST_BYTES
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                too_big = False  # the server refuses a malformed length itself
            if too_big:
                return await _refuse(send, limit)
            return await self.application(scope, receive, send)
        # No length given: take the body in (up to the limit), then hand it on as it came.
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > limit:
                return await _refuse(send, limit)
            if not message.get("more_body"):
                break

        async def replay():
            return messages.pop(0) if messages else await receive()

        return await self.application(scope, replay, send)
