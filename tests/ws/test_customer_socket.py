"""The customer chat socket: token check, hello, messages, leaving, and the idle-end notice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sessions_app.actions.create import session_create
from sessions_app.actions.messages import message_send, session_idle_end
from sessions_app.models import ChatSession
from tests.ws.helpers import Client, in_thread, run

pytestmark = pytest.mark.django_db(transaction=True)


def test_wrong_token_or_unknown_session_is_refused_with_4403(service_settings):
    session, token = session_create(customer_name="Kim", message="Hi")

    async def scenario():
        sid = str(session.pk)
        assert await Client(f"/ws/customer/{sid}/?token=wrong").refused_code() == 4403
        assert await Client(f"/ws/customer/{sid}/").refused_code() == 4403
        other = "00000000-0000-4000-8000-000000000000"
        assert await Client(f"/ws/customer/{other}/?token={token}").refused_code() == 4403
        assert await Client(f"/ws/customer/not-a-uuid/?token={token}").refused_code() == 4403

    run(scenario())


def test_hello_shows_the_queue_position_and_history(service_settings):
    session_create(customer_name="First", message="one")
    session, token = session_create(customer_name="Second", message="two")

    async def scenario():
        ws = Client(f"/ws/customer/{session.pk}/?token={token}")
        hello = await ws.connect()
        assert hello["session"]["state"] == "queued"
        assert hello["session"]["queue_position"] == 2
        assert [(m["sender"], m["body"]) for m in hello["messages"]] == [("customer", "two")]
        assert isinstance(hello["seq"], int)
        await ws.close()

    run(scenario())


def test_a_waiting_customer_hears_the_line_move_up(service_settings, make_agent):
    # Given three customers in line, the third one listening
    for name in ("First", "Second"):
        session_create(customer_name=name, message="hi")
    session, token = session_create(customer_name="Third", message="hi")

    async def scenario():
        ws = Client(f"/ws/customer/{session.pk}/?token={token}")
        hello = await ws.connect()
        assert hello["session"]["queue_position"] == 3
        # When an agent with room for one comes online and takes the first
        await in_thread(make_agent, max_sessions=1)
        # Then the third hears it is now second
        moved = await ws.expect(
            "session.updated", pred=lambda f: f["session"].get("queue_position") == 2
        )
        assert moved["session"]["state"] == "queued"
        await ws.close()

    run(scenario())


def test_customer_hears_when_an_agent_comes_and_can_leave(service_settings, make_agent):
    session, token = session_create(customer_name="Lou", message="Hi")

    async def scenario():
        ws = Client(f"/ws/customer/{session.pk}/?token={token}")
        await ws.connect()
        make_agent()  # coming online drains the queue: the session is offered
        updated = await ws.expect("session.updated", pred=lambda f: f["session"]["state"])
        assert updated["session"]["state"] == "offered"
        reply = await ws.command({"type": "message.send", "body": "still there?"})
        assert reply["type"] == "ack" and reply["message"]["body"] == "still there?"
        reply = await ws.command({"type": "session.end"})
        assert reply["type"] == "ack" and reply["reason"] == "customer_ended"
        ended = await ws.expect("session.ended")
        assert ended["reason"] == "customer_ended"
        reply = await ws.command({"type": "message.send", "body": "hello?"})
        assert (reply["type"], reply["code"]) == ("error", "session_ended")
        reply = await ws.command({"type": "session.end"})
        assert (reply["type"], reply["code"]) == ("error", "session_ended")
        await ws.close()

    run(scenario())
    assert ChatSession.objects.get(pk=session.pk).end_reason == "customer_ended"


def test_malformed_customer_frames_get_errors_and_the_socket_stays_open(service_settings):
    session, token = session_create(customer_name="Max", message="Hi")

    async def scenario():
        ws = Client(f"/ws/customer/{session.pk}/?token={token}")
        await ws.connect()
        await ws.comm.send_to(text_data="not json at all")
        assert (await ws.expect("error"))["code"] == "malformed"
        reply = await ws.command({"type": "session.accept", "session_id": str(session.pk)})
        assert (reply["type"], reply["code"]) == ("error", "unknown_type")
        reply = await ws.command({"type": "message.send", "body": ""})
        assert (reply["type"], reply["code"]) == ("error", "invalid")
        reply = await ws.command({"type": "message.send", "body": 42})
        assert (reply["type"], reply["code"]) == ("error", "invalid")
        reply = await ws.command({"type": "message.send", "body": "fine"})
        assert reply["type"] == "ack"
        await ws.close()

    run(scenario())


def test_idle_end_sends_the_notice_then_the_end(service_settings, make_agent):
    service_settings.service_mode = "auto"
    service_settings.idle_end_notice = "We closed this chat: no reply."
    service_settings.save()
    agent = make_agent()
    session, token = session_create(customer_name="Ned", message="Hi")
    message_send(session_id=session.pk, sender="agent", body="Anything else?", agent=agent)

    async def scenario():
        ws = Client(f"/ws/customer/{session.pk}/?token={token}")
        await ws.connect()
        # Overdue only once the customer is listening. The beat sweep, if a test earlier in
        # the session started it, may end the chat before our own call does: either way the
        # customer must see the notice and then the end, once.
        await in_thread(
            ChatSession.objects.filter(pk=session.pk).update,
            idle_deadline=timezone.now() - timedelta(seconds=1),
        )
        await in_thread(session_idle_end, session_id=session.pk)
        note = await ws.expect("message.created")
        assert (note["message"]["sender"], note["message"]["body"]) == (
            "system",
            "We closed this chat: no reply.",
        )
        ended = await ws.expect("session.ended")
        assert ended["reason"] == "customer_idle_timeout"
        assert ended["notice"] == "We closed this chat: no reply."
        await ws.close()
        # A reload after the end still shows why.
        again = Client(f"/ws/customer/{session.pk}/?token={token}")
        hello = await again.connect()
        assert hello["session"]["end_reason"] == "customer_idle_timeout"
        assert hello["notice"] == "We closed this chat: no reply."
        await again.close()

    run(scenario())


def test_customer_messages_over_the_socket_share_the_rest_throttle(service_settings, settings):
    # The budget is per session, and the session is new: nothing to reset.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "customer_message": "2/minute",
        },
    }
    session, token = session_create(customer_name="Olly", message="Hi")

    async def scenario():
        ws = Client(f"/ws/customer/{session.pk}/?token={token}")
        await ws.connect()
        assert (await ws.command({"type": "message.send", "body": "one"}))["type"] == "ack"
        assert (await ws.command({"type": "message.send", "body": "two"}))["type"] == "ack"
        reply = await ws.command({"type": "message.send", "body": "three"})
        assert (reply["type"], reply["code"]) == ("error", "throttled")
        await ws.close()

    run(scenario())
    bodies = list(ChatSession.objects.get(pk=session.pk).messages.values_list("body", flat=True))
    assert bodies == ["Hi", "one", "two"]
