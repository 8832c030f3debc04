"""WebSocket auth by `Authorization: Token <key>` header, for clients without a browser session."""

from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from sessions_app.asyncdb import database_sync_to_async


@database_sync_to_async
def _user_for_header(value: bytes):
    from rest_framework.authtoken.models import Token

    try:
        scheme, key = value.decode("latin-1").split(None, 1)
    except ValueError:
        return AnonymousUser()
    if scheme.lower() != "token" or not key.strip():
        return AnonymousUser()
    token = Token.objects.select_related("user").filter(key=key.strip()).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


class TokenAuthMiddleware(BaseMiddleware):
    """A present Authorization header decides alone: a bad token is anonymous, cookie or not."""

    async def __call__(self, scope, receive, send):
        header = dict(scope.get("headers") or []).get(b"authorization")
        if header is not None:
            scope = dict(scope, user=await _user_for_header(header))
        return await super().__call__(scope, receive, send)
