"""Item 4: a page on another port of the desk's host must not open an agent's socket."""

import pytest
from channels.testing import WebsocketCommunicator

from contactcenter.asgi import application
from core.origin import origin_allowed
from tests.ws.helpers import run
from tests.ws.test_agent_socket import token_headers

pytestmark = pytest.mark.django_db(transaction=True)


def connects(agent, origin: bytes, host: bytes) -> bool:
    async def scenario():
        comm = WebsocketCommunicator(
            application,
            "/ws/agent/",
            headers=[(b"origin", origin), (b"host", host), *token_headers(agent)],
        )
        connected, _ = await comm.connect(timeout=10)
        if connected:
            await comm.disconnect()
        return connected

    return run(scenario())


def test_another_port_on_the_same_host_is_denied(service_settings, make_agent):
    agent = make_agent()
    assert not connects(agent, b"http://localhost:9999", b"localhost:8000")
    assert not connects(agent, b"https://localhost:8000", b"localhost:8000")  # scheme too
    assert connects(agent, b"http://localhost:8000", b"localhost:8000")


def test_origins_compare_scheme_host_and_port(settings):
    settings.ALLOWED_HOSTS = ["desk.example.com", "localhost"]
    settings.WS_ALLOWED_ORIGINS = ["https://crm.example.org"]
    assert origin_allowed("https://desk.example.com", "desk.example.com", "wss")
    assert origin_allowed("https://desk.example.com:443", "desk.example.com", "wss")
    assert not origin_allowed("http://desk.example.com", "desk.example.com", "wss")
    assert origin_allowed("http://desk.example.com", "desk.example.com", "ws")
    assert not origin_allowed("http://desk.example.com:8080", "desk.example.com")
    assert not origin_allowed("https://evil.example", "desk.example.com")
    assert not origin_allowed("null", "desk.example.com")
    assert not origin_allowed(None, "desk.example.com")
    assert origin_allowed("https://crm.example.org", "desk.example.com")  # listed whole
    assert not origin_allowed("http://crm.example.org", "desk.example.com")
