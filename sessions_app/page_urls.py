"""URLs of the server-rendered pages."""

from django.urls import path

from . import pages

urlpatterns = [
    path("", pages.home, name="home"),
    path("workspace/", pages.workspace, name="workspace"),
    path("chat/", pages.chat, name="chat"),
]
