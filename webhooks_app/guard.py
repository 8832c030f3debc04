"""The SSRF guard: a webhook may only reach the public internet.

A URL must be http(s) with a host; every address its host resolves to must be global (not
loopback, private, link-local, shared, reserved, multicast or unspecified), unless
`WEBHOOK_ALLOW_PRIVATE` is on (the default only with DEBUG). Checked when a webhook is saved
and again before every delivery attempt, so a name that later resolves to an inside address
(DNS rebinding) is refused then; the attempt then connects to the address it checked
(`pinned`), not to a second resolution's; redirects are never followed.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from core.errors import Invalid


class Refused(Exception):
    """The URL may not be called; the message says why."""


def resolve(host: str, port: int) -> list[str]:
    """The addresses a host name resolves to (a literal address: itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


def _forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast or ip.is_unspecified or ip.is_reserved


def check(url: str) -> str | None:
    """Raise Refused unless the URL may be called now; the public address it resolved to (to
    connect to that very address), or None when private addresses are allowed (nothing was
    resolved)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("Only http and https URLs with a host.")
    if parts.username or parts.password:
        raise Refused("No credentials in the URL: the signature authenticates the desk.")
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused("The URL's port is not a number.") from None
    try:
        addresses = resolve(parts.hostname, port)
    except (OSError, UnicodeError):
        raise Refused(f"{parts.hostname} does not resolve.") from None
    inside = [a for a in addresses if _forbidden(a)]
    if inside or not addresses:
        raise Refused(
            f"{parts.hostname} resolves to an address that is not public ({', '.join(inside)})."
        )
    return addresses[0]


def pinned(url: str, address: str | None) -> tuple[str, dict, dict]:
    """The request to `url` made to the checked `address` itself (no second resolution that
    could answer differently): (URL with the address as host, the Host header, the TLS name
    for SNI and certificate checks). Unchanged with no address."""
    if address is None:
        return url, {}, {}
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    original = parts.netloc.rsplit("@", 1)[-1]
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    return parts._replace(netloc=netloc).geturl(), {"Host": original}, extensions


def check_on_save(url: str) -> None:
    try:
        check(url)
    except Refused as exc:
        raise Invalid(str(exc), code="url_not_allowed", field="url") from None
