"""Thin WebSocket consumers: authenticate, join a group, turn frames into service calls.

Every connect (and every `sync`) sends a `hello` snapshot carrying the group's current `seq`.
Events arrive from the channel layer already numbered; the consumer forwards them in `seq`
order, drops those the snapshot already covers, and holds an early one up to a second for the
missing one (events from different processes may cross). A gap that does not fill is forwarded
as is: the client sees it and asks for a fresh `hello`.
"""

import asyncio
import logging
import time
import uuid
from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone

from agents_app import presence
from agents_app.actions.status import agent_set_status
from agents_app.models import Agent
from agents_app.selectors import (
    agent_capacity,
    agent_dict,
    agent_for_user,
    agents_with_load,
    transfer_targets,
)
from agents_app.selectors import service_settings as current_settings
from core import jsonsafe
from core.api import CustomerMessageThrottle
from core.asyncdb import database_sync_to_async
from core.errors import DomainError, Invalid, NotFound, Throttled

from . import metrics, push, selectors
from .access import Act, access_session, session_for_customer
from .actions.end import session_end
from .actions.messages import message_send, messages_read
from .actions.offers import offer_accept, offer_decline
from .actions.transfer import session_transfer
from .models import ChatSession, EndReason, Sender, SessionState

log = logging.getLogger(__name__)

REORDER_WAIT = 1.0  # seconds an early event waits for the one missing before it
SYNC_PER_WINDOW, SYNC_WINDOW_SECONDS = 5, 10  # syncs a socket may ask for, per 10 s
CLOSE_NOT_AGENT = 4401
CLOSE_BAD_SESSION = 4403


def server_time() -> str:
    return timezone.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _observe(frame: dict) -> None:
    try:
        metrics.observe_push_frame(frame)
    except Exception:  # noqa: BLE001 -- metrics must never cost a live event
        log.debug("push metric failed", exc_info=True)


def _count_resync() -> None:
    try:
        metrics.count_push_resynced()
    except Exception:  # noqa: BLE001
        log.debug("resync metric failed", exc_info=True)


def session_id_of(frame: dict) -> str:
    value = frame.get("session_id")
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError):
        if value in (None, ""):
            raise Invalid("session_id is required.", field="session_id") from None
        raise NotFound("No such chat session.") from None


class NumberedConsumer(AsyncWebsocketConsumer):
    """Shared plumbing: frame parsing, ack/error replies, and in-order `seq` delivery."""

    group: str = ""
    commands: dict[str, str] = {}

    async def websocket_connect(self, message):
        self.next_seq: int | None = None
        self.held: dict[int, dict] = {}
        self.release_task: asyncio.Task | None = None
        await super().websocket_connect(message)

    async def dispatch(self, message):
        """Channels' dispatch without its hop to close old database connections.

        Channels runs `close_old_connections` before every message a consumer handles (each
        push, each frame), through `sync_to_async` on the one thread a process keeps for
        thread-sensitive calls: every socket of the daphne queued there, behind whatever else
        ran on it, a thread hop per frame. These consumers never touch the database on the
        loop's thread; each of their database calls runs through `database_sync_to_async`,
        which closes old connections around the call on the thread that makes it.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']!r}")
        await handler(message)

    async def send_frame(self, frame: dict) -> None:
        frame["ts"] = server_time()
        self.observe(frame)
        await self.send(text_data=jsonsafe.dumps(frame))

    def observe(self, frame: dict) -> None:
        """What a frame on its way out says about this socket's chats (kept for typing)."""

    async def send_hello(self) -> None:
        """A fresh snapshot; events it already covers are dropped when they arrive."""
        seq = await push.current_seq_async(self.group)
        body = await self.snapshot()
        self.next_seq = seq + 1
        self.held = {s: f for s, f in self.held.items() if s > seq}
        await self.send_frame({"type": "hello", "seq": seq, **body})
        await self._forward_ready()

    async def snapshot(self) -> dict:
        raise NotImplementedError

    async def disconnect(self, code):
        if self.release_task is not None:
            self.release_task.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    # --- events from the channel layer -------------------------------------------------------

    async def push_event(self, event: dict) -> None:
        frames = event.get("frames") or [event["frame"]]
        for frame in frames:
            _observe(frame)
            await self._push_one(dict(frame))

    async def _push_one(self, frame: dict) -> None:
        seq = frame.get("seq")
        if not isinstance(seq, int) or self.next_seq is None:
            await self.send_frame(frame)
            return
        if seq < self.next_seq:
            return  # the hello already covered it
        self.held[seq] = frame
        await self._forward_ready()
        if self.held and (self.release_task is None or self.release_task.done()):
            self.release_task = asyncio.create_task(self._release_later())

    async def _forward_ready(self) -> None:
        while self.next_seq in self.held:
            frame = self.held.pop(self.next_seq)
            self.next_seq += 1
            await self.send_frame(frame)

    async def _release_later(self) -> None:
        """The missing event never came: forward what waited, so the client notices the gap."""
        await asyncio.sleep(REORDER_WAIT)
        if not self.held:
            return
        frames = [self.held.pop(s) for s in sorted(self.held)]
        self.next_seq = frames[-1]["seq"] + 1
        for frame in frames:
            await self.send_frame(frame)

    # --- commands from the client ------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        await self.on_sign_of_life()
        try:
            frame = jsonsafe.loads(text_data) if text_data is not None else None
        except jsonsafe.BadJSON as exc:
            detail = f"Send JSON objects: {exc.detail}"
            await self.send_frame(
                {"type": "error", "ref": None, "code": "malformed", "detail": detail}
            )
            return
        if not isinstance(frame, dict):
            await self.send_frame(
                {"type": "error", "ref": None, "code": "malformed", "detail": "Send JSON objects."}
            )
            return
        ref = frame.get("ref")
        kind = frame.get("type")
        handler = self.commands.get(kind) if isinstance(kind, str) else None
        if handler is None:
            await self.send_frame(
                {
                    "type": "error",
                    "ref": ref,
                    "code": "unknown_type",
                    "detail": f"Unknown command type {kind!r}.",
                }
            )
            return
        try:
            extra = await getattr(self, handler)(frame) or {}
        except DomainError as exc:
            reply = {"type": "error", "ref": ref, "code": exc.code, "detail": exc.detail}
            if exc.field:
                reply["field"] = exc.field
            if isinstance(exc, Throttled):
                reply["retry_after"] = exc.retry_after
            await self.send_frame(reply)
            return
        except Exception:  # noqa: BLE001 -- one bad command must not close the socket
            log.exception("command %s failed", kind)
            await self.send_frame(
                {"type": "error", "ref": ref, "code": "server_error", "detail": "Try again."}
            )
            return
        await self.send_frame({"type": "ack", "ref": ref, **extra})

    async def on_sign_of_life(self) -> None:
        pass

    async def cmd_sync(self, frame: dict) -> dict:
        # A hello is the whole snapshot: a client needs one per gap it sees, a few a minute.
        # Unbounded, 300 syncs (12 KB in) sent 17.7 MB back in 3.3 s.
        now = time.monotonic()
        window = [t for t in getattr(self, "_syncs", []) if now - t < SYNC_WINDOW_SECONDS]
        if len(window) >= SYNC_PER_WINDOW:
            retry = max(1, int(SYNC_WINDOW_SECONDS - (now - window[0])) + 1)
            raise Throttled(f"Too many syncs; try again in {retry} s.", retry_after=retry)
        self._syncs = [*window, now]
        _count_resync()
        await self.send_hello()
        return {}

    async def cmd_heartbeat(self, frame: dict) -> dict:
        return {"seq": await push.current_seq_async(self.group)}


# --- agent ------------------------------------------------------------------------------------


@database_sync_to_async
def _agent_for_user(user) -> Agent | None:
    return agent_for_user(user)


@database_sync_to_async
def _agent_snapshot(agent_id: int) -> dict:
    agent = agents_with_load(Agent.objects.filter(pk=agent_id)).get()
    cfg = current_settings()
    agent_data = agent_dict(agent)
    agent_data["capacity"] = agent_capacity(agent, cfg)
    sessions = []
    found = selectors.sessions_for_agent(agent)
    standing = selectors.standing_offers_of([s.pk for s in found])
    for session in found:
        offer = standing.get(session.pk)
        data = selectors.session_dict(session, offer=offer)
        if offer is not None and offer.agent_id == agent.pk:
            # Offered to this agent: a new chat, or a transfer of someone else's active one.
            data["offer"] = {**selectors.offer_dict(offer), **selectors.countdown_dict(offer)}
            data["first_message"] = selectors.first_customer_message(session)
        elif offer is not None and offer.is_transfer:
            data["transfer"] = selectors.transfer_dict(offer)  # asked by this agent, pending
        sessions.append(data)
    return {
        "agent": agent_data,
        "sessions": sessions,
        "service_mode": cfg.service_mode,
        "presence_grace_seconds": cfg.presence_grace_seconds,
    }


@database_sync_to_async
def _agent_messages(session_id: str, agent: Agent) -> list[dict]:
    # The workspace is an agent's view: staff rights do not apply on this socket.
    found = access_session(session_id, agent=agent, staff=False).require(Act.READ_MESSAGES)
    return [selectors.message_dict(m) for m in selectors.session_messages(found.session)]


class AgentConsumer(NumberedConsumer):
    """/ws/agent/: the agent workspace."""

    commands = {
        "session.accept": "cmd_accept",
        "session.decline": "cmd_decline",
        "session.transfer": "cmd_transfer",
        "transfer.targets": "cmd_transfer_targets",
        "typing": "cmd_typing",
        "message.read": "cmd_read",
        "message.send": "cmd_message",
        "session.end": "cmd_end",
        "agent.status": "cmd_status",
        "messages.list": "cmd_messages",
        "queue.stats": "cmd_queue_stats",
        "heartbeat": "cmd_heartbeat",
        "sync": "cmd_sync",
    }

    async def connect(self):
        self.agent = await _agent_for_user(self.scope.get("user"))
        self.touched_at = 0.0
        self.serving: set[str] = set()  # chats this agent serves, as its frames said
        if self.agent is None:
            await self.accept()
            await self.close(code=CLOSE_NOT_AGENT)
            return
        self.group = push.agent_group(self.agent.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.on_sign_of_life(force=True)
        await self.send_hello()

    async def disconnect(self, code):
        if getattr(self, "agent", None) is not None:
            # The last sign of life: the grace period runs from here.
            await self.on_sign_of_life(force=True)
        await super().disconnect(code)

    async def on_sign_of_life(self, force: bool = False) -> None:
        agent = getattr(self, "agent", None)
        now = time.monotonic()
        if agent is None or (not force and now - self.touched_at < presence.TOUCH_EVERY):
            return
        self.touched_at = now
        try:
            await presence.presence_touch(agent.pk, now=force)
        except Exception:  # noqa: BLE001 -- presence is best effort; the socket matters more
            log.warning("presence stamp failed for agent %s", agent.pk, exc_info=True)

    async def snapshot(self) -> dict:
        return await _agent_snapshot(self.agent.pk)

    def observe(self, frame: dict) -> None:
        kind = frame.get("type")
        if kind == "hello":
            me = str(self.agent.pk)
            self.serving = {
                s["id"]
                for s in frame.get("sessions", [])
                if s["state"] == SessionState.ACTIVE and (s.get("agent") or {}).get("id") == me
            }
        elif kind == "session.assigned":
            self.serving.add(frame["session"]["id"])
        elif kind in ("session.ended", "session.transferred"):
            self.serving.discard(frame.get("session_id"))

    async def cmd_accept(self, frame: dict) -> dict:
        return {"session": await _accept(session_id_of(frame), self.agent)}

    async def cmd_decline(self, frame: dict) -> dict:
        session = await database_sync_to_async(offer_decline)(
            session_id=session_id_of(frame), agent=self.agent
        )
        return {"session_id": str(session.pk)}

    async def cmd_transfer(self, frame: dict) -> dict:
        transfer = await _transfer(
            session_id=session_id_of(frame),
            to_agent=frame.get("to_agent"),
            to_group=frame.get("to_group"),
            note=frame.get("note"),
            by_agent=self.agent,
        )
        return {"transfer": transfer}

    async def cmd_typing(self, frame: dict) -> dict:
        sid = session_id_of(frame)
        if sid not in self.serving:
            await _agent_serving(sid, self.agent)  # someone else's chat is not found, as ever
            self.serving.add(sid)
        if not await push.typing_due(sid, Sender.AGENT):
            return {"forwarded": False}
        typing = {"type": "typing", "session_id": sid, "sender": Sender.AGENT}
        await push.ephemeral_async(push.customer_group(sid), typing)
        return {"forwarded": True}

    async def cmd_read(self, frame: dict) -> dict:
        marked = await database_sync_to_async(messages_read)(
            session_id=session_id_of(frame),
            reader=Sender.AGENT,
            message_id=frame.get("message_id"),
            agent=self.agent,
        )
        return {"marked": marked}

    async def cmd_queue_stats(self, frame: dict) -> dict:
        return {"queues": await database_sync_to_async(selectors.queue_stats)(self.agent)}

    async def cmd_transfer_targets(self, frame: dict) -> dict:
        return await database_sync_to_async(transfer_targets)(self.agent)

    async def cmd_message(self, frame: dict) -> dict:
        return {
            "message": await _agent_message(session_id_of(frame), frame.get("body"), self.agent)
        }

    async def cmd_end(self, frame: dict) -> dict:
        session = await database_sync_to_async(session_end)(
            session_id=session_id_of(frame), reason=EndReason.AGENT_ENDED, agent=self.agent
        )
        return {"session_id": str(session.pk), "reason": session.end_reason}

    async def cmd_status(self, frame: dict) -> dict:
        status, reason = frame.get("status"), frame.get("status_reason")
        if not isinstance(status, str):
            raise Invalid("status is required.", field="status")
        if reason is not None and not isinstance(reason, str):
            raise Invalid("status_reason must be a string.", field="status_reason")
        agent = await database_sync_to_async(agent_set_status)(
            agent_id=self.agent.pk, status=status, reason=reason
        )
        # Touch after the change, so a workspace that dies right after going online is judged.
        await self.on_sign_of_life(force=True)
        return {"status": agent.status, "status_reason": agent.status_reason}

    async def cmd_messages(self, frame: dict) -> dict:
        return {"messages": await _agent_messages(session_id_of(frame), self.agent)}


@database_sync_to_async
def _transfer(**kwargs) -> dict:
    """Transfer and describe it in one trip to the database thread pool (names may be read)."""
    return selectors.transfer_dict(session_transfer(**kwargs))


@database_sync_to_async
def _agent_message(session_id: str, body: Any, agent: Agent) -> dict:
    """Write and describe the message in one trip: its author's name may need a query."""
    message = message_send(session_id=session_id, sender=Sender.AGENT, body=body, agent=agent)
    return selectors.message_dict(message)


@database_sync_to_async
def _agent_serving(session_id: str, agent: Agent) -> None:
    """NotFound unless the agent serves this chat now (typing needs no more than that)."""
    if not ChatSession.objects.filter(
        pk=session_id, agent=agent, state=SessionState.ACTIVE
    ).exists():
        raise NotFound("No such chat session.")


@database_sync_to_async
def _accept(session_id: str, agent) -> dict:
    """Accept and describe the session in one trip to the database thread pool."""
    return selectors.session_dict(offer_accept(session_id=session_id, agent=agent))


# --- customer ---------------------------------------------------------------------------------


@database_sync_to_async
def _customer_session(session_id: Any, token: str | None):
    try:
        session_id = str(uuid.UUID(str(session_id)))
    except ValueError:
        return None
    return session_for_customer(session_id, token)


@database_sync_to_async
def _customer_snapshot(session_id: str) -> dict:
    session = selectors.session_get(session_id)
    data = selectors.session_dict(session)
    messages = [selectors.message_dict(m) for m in selectors.session_messages(session)]
    body = {"session": data, "messages": messages}
    if session.end_reason in (EndReason.CUSTOMER_IDLE_TIMEOUT, EndReason.QUEUE_TIMEOUT):
        body["notice"] = selectors.last_system_message(session)
    if session.state == SessionState.ENDED and session.accepted_at is not None:
        body.update(selectors.rating_offer(session))
    return body


@database_sync_to_async
def _customer_message(session_id: str, body: Any):
    """Within the REST endpoint's per-session budget (THROTTLE_CUSTOMER_MESSAGE), write.

    One trip to the database thread pool for both.
    """
    throttle = CustomerMessageThrottle(session_id)
    if throttle.rate is not None and not throttle.allow_request(None, None):
        wait = throttle.wait() or 1
        raise DomainError(f"Too many messages; try again in {int(wait) + 1} s.", code="throttled")
    message = message_send(session_id=session_id, sender=Sender.CUSTOMER, body=body)
    return selectors.message_dict(message)


class CustomerConsumer(NumberedConsumer):
    """/ws/customer/<session_id>/?token=...: one customer's chat."""

    commands = {
        "message.send": "cmd_message",
        "session.end": "cmd_end",
        "typing": "cmd_typing",
        "message.read": "cmd_read",
        "heartbeat": "cmd_heartbeat",
        "sync": "cmd_sync",
    }

    async def connect(self):
        from urllib.parse import parse_qs

        query = parse_qs((self.scope.get("query_string") or b"").decode("latin-1"))
        token = (query.get("token") or [None])[0]
        raw_id = self.scope["url_route"]["kwargs"].get("session_id")
        session = await _customer_session(raw_id, token)
        if session is None:
            await self.accept()
            await self.close(code=CLOSE_BAD_SESSION)
            return
        self.session_id = str(session.pk)
        self.serving_agent: str | None = None  # who serves the chat now, as its frames said
        self.group = push.customer_group(self.session_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_hello()

    async def snapshot(self) -> dict:
        return await _customer_snapshot(self.session_id)

    def observe(self, frame: dict) -> None:
        session = frame.get("session")
        if isinstance(session, dict) and "state" in session:
            active = session["state"] == SessionState.ACTIVE and session.get("agent")
            self.serving_agent = session["agent"]["id"] if active else None
        elif frame.get("type") == "session.ended":
            self.serving_agent = None

    async def cmd_typing(self, frame: dict) -> dict:
        agent_id = self.serving_agent
        if agent_id is None:
            return {"forwarded": False}  # nobody serves it now: nobody to tell
        if not await push.typing_due(self.session_id, Sender.CUSTOMER):
            return {"forwarded": False}
        typing = {"type": "typing", "session_id": self.session_id, "sender": Sender.CUSTOMER}
        await push.ephemeral_async(push.agent_group(agent_id), typing)
        return {"forwarded": True}

    async def cmd_read(self, frame: dict) -> dict:
        marked = await database_sync_to_async(messages_read)(
            session_id=self.session_id, reader=Sender.CUSTOMER, message_id=frame.get("message_id")
        )
        return {"marked": marked}

    async def cmd_message(self, frame: dict) -> dict:
        return {"message": await _customer_message(self.session_id, frame.get("body"))}

    async def cmd_end(self, frame: dict) -> dict:
        session = await database_sync_to_async(session_end)(
            session_id=self.session_id, reason=EndReason.CUSTOMER_ENDED
        )
        return {"session_id": str(session.pk), "reason": session.end_reason}
