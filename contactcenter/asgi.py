"""ASGI entry point: HTTP through Django (static files included), WebSockets through Channels."""

import gc
import os
import sys

import django
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
django.setup(set_prefix=False)  # what get_asgi_application() does, before its handler

from contactcenter.handlers import PooledThreadASGIHandler  # noqa: E402
from core import daphne_forms  # noqa: E402

daphne_forms.install()  # Django parses request bodies; Twisted must not do it first

django_asgi_app = PooledThreadASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from contactcenter.overload import WatchOverload  # noqa: E402
from core.bodylimit import BodyLimit  # noqa: E402
from core.origin import OriginValidator  # noqa: E402
from sessions_app import ws_urls as sessions_ws  # noqa: E402
from sessions_app.ws_auth import WebSocketAuth  # noqa: E402
from supervision_app import ws_urls as supervision_ws  # noqa: E402

# Each app's sockets: the agent's and customer's (sessions_app), the supervisor's.
websocket_urlpatterns = sessions_ws.websocket_urlpatterns + supervision_ws.websocket_urlpatterns

# daphne has no static file serving of its own: the workspace's JS, CSS and ringtone come from
# WhiteNoise in Django's middleware, with their headers (a front proxy may serve STATIC_ROOT).
# Outermost, the overload watch (contactcenter/overload.py): each connection's arrival stamped,
# this process's event loop timed.
application = WatchOverload(
    ProtocolTypeRouter(
        {
            "http": BodyLimit(django_asgi_app),
            # The whole origin checked (core/origin.py); then a token, or the session cookie.
            "websocket": OriginValidator(WebSocketAuth(URLRouter(websocket_urlpatterns))),
        }
    )
)

# Everything loaded so far lives as long as the process: keep it out of the collector's scans,
# whose pauses on a busy daphne line up with latency spikes.
gc.collect()
gc.freeze()

# The event loop (sockets, pushes) and the threads running Django's sync code (views, ORM)
# share the GIL. Each time the loop has waited on a socket, it must wait again for a computing
# request's thread to hand the GIL back: up to the switch interval, 5 ms by default. A shorter
# interval keeps the loop prompt (bench/gil_switch.py; docs/performance.md).
if settings.ASGI_SWITCH_INTERVAL_MS > 0:
    sys.setswitchinterval(settings.ASGI_SWITCH_INTERVAL_MS / 1000)
