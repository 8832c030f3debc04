"""The WebSocket handshake's `Origin`, checked whole: scheme, host and port.

Browsers send a page's cookies with a socket it opens to any site, so the origin is what
keeps another page from driving an agent's workspace socket with the agent's cookie. Channels'
own validator compares only the host with ALLOWED_HOSTS: a page on another port of the same
host (`http://localhost:9999`, any other app there) passed. Allowed here: the desk's own origin
(the origin names the host and port the socket itself was opened to, as the `Host` header
gives them) on a host in ALLOWED_HOSTS, or an origin listed whole in `WS_ALLOWED_ORIGINS`
(for a page served elsewhere).
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _origin_tuple(value: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin or base URL, or None if it is not one."""
    try:
        parts = urlsplit(value)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        return None
    return parts.scheme, parts.hostname.lower(), port


def _host_tuple(host: str) -> tuple[str, int | None]:
    name, port = split_domain_port(host)
    return name.lower(), int(port) if port.isdigit() else None


def origin_allowed(origin: str | None, host: str | None, scheme: str = "ws") -> bool:
    """`scheme`: the socket's own (`ws` or `wss`); behind a proxy that ends TLS
    (`SECURE_HTTPS`), pages are https whatever the socket's scheme is here."""
    if not origin:
        return False
    found = _origin_tuple(origin)
    if found is None:
        return False
    if found in {_origin_tuple(o) for o in settings.WS_ALLOWED_ORIGINS}:
        return True
    page_scheme, name, port = found
    expected = "https" if scheme == "wss" or getattr(settings, "SECURE_HTTPS", False) else "http"
    if page_scheme != expected or not validate_host(name, settings.ALLOWED_HOSTS):
        return False
    if not host:
        return False
    host_name, host_port = _host_tuple(host)
    return (host_name, host_port or DEFAULT_PORTS[page_scheme]) == (name, port)


class OriginValidator:
    """ASGI middleware: deny a WebSocket handshake whose origin is not the desk's own."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            headers = dict(scope.get("headers") or [])
            origin = headers.get(b"origin", b"").decode("latin1") or None
            host = headers.get(b"host", b"").decode("latin1") or None
            if not origin_allowed(origin, host, scope.get("scheme", "ws")):
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
