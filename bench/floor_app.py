"""A chat's transport and nothing else: the ASGI app `bench/floor.py` runs on daphne.

The same server (daphne), WebSocket framework (Channels) and channel layer (the desk's batched
channels-redis pub/sub layer) as the desk, with none of the desk's work: no database, no
Django request handling, no numbering, no checks. A command is parsed, its events are sent to
the chat's two groups and it is acknowledged; an HTTP POST does the same and answers 201.
What a chat costs here is what any chat costs on this stack before the desk does anything.

    daphne bench.floor_app:application   (REDIS_URL names the Redis to use)
"""

import json
import os
import uuid

import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["channels"],
    CHANNEL_LAYERS={
        "default": {
            "BACKEND": "sessions_app.layer.BatchedPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": os.environ["REDIS_URL"]}],
                "prefix": "ccfloor:asgi:",
            },
        }
    },
)
django.setup(set_prefix=False)

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

# What each command or POST sends, and to whom: (event type, to the agent, to the customer).
EVENTS = {
    "create": ("session.offered", True, False),
    "session.accept": ("session.assigned", True, True),
    "message.send": ("message.created", True, True),
    "session.end": ("session.ended", True, True),
}


async def fan_out(layer, command: dict) -> None:
    kind, to_agent, to_customer = EVENTS[command["type"]]
    frame = {"type": kind, "session_id": command["session_id"], "body": command.get("body")}
    if to_agent:
        await layer.group_send(f"a.{command['agent']}", {"type": "push.event", "frame": frame})
    if to_customer:
        await layer.group_send(f"c.{command['session_id']}", {"type": "push.event", "frame": frame})


class Skeleton(AsyncWebsocketConsumer):
    async def connect(self):
        kwargs = self.scope["url_route"]["kwargs"]
        self.group = f"a.{kwargs['agent']}" if "agent" in kwargs else f"c.{kwargs['sid']}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send(text_data=json.dumps({"type": "hello", "seq": 0}))

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        command = json.loads(text_data)
        await fan_out(self.channel_layer, command)
        await self.send(text_data=json.dumps({"type": "ack", "ref": command.get("ref")}))

    async def push_event(self, event):
        await self.send(text_data=json.dumps(event["frame"]))


async def http(scope, receive, send):
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    command = json.loads(body or b"{}")
    if scope["path"] == "/create":
        command.update(type="create", session_id=str(uuid.uuid4()))
    await fan_out(get_channel_layer(), command)
    answer = json.dumps({"id": command["session_id"]}).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


application = ProtocolTypeRouter(
    {
        "http": http,
        "websocket": URLRouter(
            [
                path("ws/agent/<str:agent>/", Skeleton.as_asgi()),
                path("ws/customer/<str:sid>/", Skeleton.as_asgi()),
            ]
        ),
    }
)
