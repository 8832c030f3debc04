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


MULTIPART_ROOM = 64 * 1024  # an upload's envelope: boundaries, part headers, a long name


def _limit_for(path: str) -> int:
    """Attachment uploads may carry a file of ATTACHMENT_MAX_BYTES; every other body is small.
    The upload view refuses a file over the limit itself, with the same 413."""
    if path.startswith(settings.UPLOAD_PATH_PREFIX) and path.endswith(settings.UPLOAD_PATH_SUFFIX):
        return max(settings.MAX_REQUEST_BYTES, settings.ATTACHMENT_MAX_BYTES + MULTIPART_ROOM)
    return settings.MAX_REQUEST_BYTES


class BodyLimit:
    """ASGI middleware for HTTP: bodies of at most MAX_REQUEST_BYTES."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.application(scope, receive, send)
        limit = _limit_for(scope.get("path", ""))
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
