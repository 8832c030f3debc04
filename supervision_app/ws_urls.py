"""WebSocket URL routes of supervision."""

from django.urls import path

from .consumers import SupervisorConsumer

websocket_urlpatterns: list = [path("ws/supervisor/", SupervisorConsumer.as_asgi())]
