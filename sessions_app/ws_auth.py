"""Who is on a WebSocket, resolved only where it matters.

- An `Authorization: Token <key>` header decides alone: a bad token is anonymous, cookie or not.
- Customer sockets (`/ws/customer/...`) prove themselves with their chat's token, checked by the
  consumer: no user is looked up for them.
- Anything else: the browser's session cookie (channels' AuthMiddlewareStack).

Channels resolves the cookie's user on one thread per process (its database helper is
thread-sensitive), so every handshake through the stack waits its turn there; customers and
token clients, most of the handshakes under load, now skip it.
"""

from channels.auth import AuthMiddlewareStack
from django.contrib.auth.models import AnonymousUser

from core.asyncdb import database_sync_to_async

CUSTOMER_PATH = "/ws/customer/"


@database_sync_to_async
def _user_for_header(value: bytes):
    from core.tokens import token_user

    try:
        scheme, key = value.decode("latin-1").split(None, 1)
    except ValueError:
        return AnonymousUser()
    if scheme.lower() != "token" or not key.strip():
        return AnonymousUser()
    return token_user(key.strip()) or AnonymousUser()


class WebSocketAuth:
    """ASGI middleware: sets `scope["user"]` as the module docstring says, then calls `inner`."""

    def __init__(self, inner):
        self.inner = inner
        self.by_cookie = AuthMiddlewareStack(inner)

    async def __call__(self, scope, receive, send):
        header = dict(scope.get("headers") or []).get(b"authorization")
        if header is not None:
            user = await _user_for_header(header)
            return await self.inner(dict(scope, user=user), receive, send)
        if scope.get("path", "").startswith(CUSTOMER_PATH):
            return await self.inner(dict(scope, user=AnonymousUser()), receive, send)
        return await self.by_cookie(scope, receive, send)
