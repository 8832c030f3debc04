"""WebSocket URL routes."""

from django.urls import path

from . import consumers

websocket_urlpatterns: list = [
    path("ws/agent/", consumers.AgentConsumer.as_asgi()),
    path("ws/customer/<str:session_id>/", consumers.CustomerConsumer.as_asgi()),
]
