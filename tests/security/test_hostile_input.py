"""Items 2, 3, 9, 10 and 12: hostile bodies and frames get a clear error, lose nothing and
never a 500 or a closed socket."""

import json

import httpx
import pytest

from core.errors import Invalid
from core.text import clean_body, clean_name
from sessions_app.actions.create import session_create
from sessions_app.models import ChatSession, Message
from tests.ws.helpers import Client, run
from tests.ws.test_agent_socket import agent_client

pytestmark = pytest.mark.django_db(transaction=True)


def nested(depth: int) -> str:
    return '{"customer_name": "Deep", "message": ' + "[" * depth + "]" * depth + "}"


# --- item 2: deep nesting; item 10: big bodies (a real daphne: the limit sits in front of
# Django, which would read the whole body first) ------------------------------------------------


def test_deeply_nested_json_is_a_400_not_a_500(live_server_url):
    answer = httpx.post(
        f"{live_server_url}/api/sessions/",
        content=nested(1000),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.text[:200]
    assert answer.json()["code"] == "too_deep"


def test_a_body_over_the_limit_is_refused_by_its_length_before_it_is_read(live_server_url):
    big = b'{"customer_name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    answer = httpx.post(
        f"{live_server_url}/api/sessions/",
        content=big,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.json()["code"] == "too_large"


def test_a_chunked_body_over_the_limit_is_refused_too(live_server_url):
    def chunks():
        yield b'{"customer_name": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    answer = httpx.post(
        f"{live_server_url}/api/sessions/",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.json()["code"] == "too_large"


def test_nan_in_a_body_is_not_json(live_server_url):
    answer = httpx.post(
        f"{live_server_url}/api/sessions/",
        content='{"customer_name": "Nan", "message": NaN}',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "parse_error"


# --- items 2 and 12 over the WebSocket ----------------------------------------------------------


def test_deep_or_nan_frames_get_an_error_and_the_socket_stays_open(service_settings, make_agent):
    agent = make_agent()

    async def scenario():
        ws = agent_client(agent)
        await ws.connect()
        await ws.comm.send_to(text_data="[" * 1500 + "]" * 1500)
        error = await ws.expect("error")
        assert error["code"] == "malformed"
        await ws.comm.send_to(text_data='{"type": "sync", "ref": NaN}')
        raw = await ws.comm.receive_from(timeout=5)
        frame = json.loads(raw, parse_constant=lambda name: pytest.fail(f"{name} sent"))
        assert (frame["type"], frame["code"]) == ("error", "malformed")
        # Still open: a command works
        ack = await ws.command({"type": "heartbeat"})
        assert ack["type"] == "ack"
        await ws.close()

    run(scenario())


# --- item 3: NUL and lone surrogates over both sockets ----------------------------------------


@pytest.mark.parametrize("body", ["a\u0000b", "x\udfffy"])
def test_nul_and_surrogates_over_the_sockets_are_invalid_not_server_errors(
    service_settings, make_agent, body
):
    from sessions_app.actions.offers import offer_accept
    from sessions_app.models import Offer

    agent = make_agent()
    session, token = session_create(customer_name="Una", message="Hi")
    offer_accept(session_id=session.pk, agent=Offer.objects.get(session=session).agent)
    # json.dumps writes a lone surrogate as \udfff, as a hostile client would
    frame = json.dumps({"type": "message.send", "session_id": str(session.pk), "body": body})

    async def scenario():
        customer = Client(f"/ws/customer/{session.pk}/?token={token}")
        await customer.connect()
        await customer.comm.send_to(text_data=frame.replace("}", ', "ref": "c1"}'))
        reply = await customer.reply("c1")
        assert (reply["type"], reply["code"]) == ("error", "invalid")
        ws = agent_client(agent)
        await ws.connect()
        await ws.comm.send_to(text_data=frame.replace("}", ', "ref": "a1"}'))
        reply = await ws.reply("a1")
        assert (reply["type"], reply["code"]) == ("error", "invalid")
        await customer.close()
        await ws.close()

    run(scenario())
    assert Message.objects.filter(session=session).count() == 1  # only the "Hi"


# --- item 9: spoofing with invisible and bidi characters --------------------------------------


def test_bidi_controls_are_stripped_and_invisible_only_text_is_empty():
    assert clean_name("\u202egnp.exe") == "gnp.exe"
    assert clean_name("Al\u200bice") == "Alice"
    with pytest.raises(Invalid):
        clean_body("\u200b\u200c\u200d\ufeff")
    with pytest.raises(Invalid):
        clean_name("\u200b \u2060")
    session, _ = session_create(customer_name="Bo\u202eb", message="hi \u2066there\u2069")
    stored = ChatSession.objects.get(pk=session.pk)
    assert stored.customer_name == "Bob"
    assert Message.objects.get(session=session, sender="customer").body == "hi there"
