"""Load benchmark: agents on WebSockets on every daphne, customers at a set rate; prints figures.

Drives the desk only through the public contract (REST + WebSocket). It starts its own topology
(bench/topology.py: 2 daphne, 2 Celery workers, 1 beat, its own Redis and PostgreSQL), or is
pointed at one with --urls/--redis-url/--database-url. It runs for --duration seconds, stops by
itself, and prints: sessions created/s, messages/s, offer and message delivery latency
p50/p95/p99 beside a bare channel-layer round trip measured in the same run from a separate,
otherwise idle process (bench/rtt_probe.py) and from the load process itself, timer lateness,
errors by kind, peak RSS and CPU of each process, the CPU seconds per chat, and the result of
check_invariants. It prints the machine's speed figure first: a slow desk and a slow machine
look alike in latencies alone.

    .venv/bin/python bench/load.py --duration 120 --rate 20 --agents 200
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import httpx
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rtt_probe import layer_class  # noqa: E402
from bench.rtt_probe import read as read_probe  # noqa: E402
from bench.topology import Topology  # noqa: E402


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def ms(value: float | None) -> str:
    return "   -   " if value is None else f"{value * 1000:7.1f}"


def stamp(text: str) -> str:
    """A message body carrying its send time, so the receiver can time the delivery."""
    return f"{text} @{time.time():.6f}"


def sent_at(body: str) -> float | None:
    try:
        return float(body.rsplit("@", 1)[1])
    except (IndexError, ValueError):
        return None


@dataclass
class Config:
    duration: float = 120.0
    rate: float = 20.0  # new sessions per second
    agents: int = 200
    max_sessions: int = 5
    # Customer message + agent reply, per session, after the first message: 1-3 makes about 5
    # messages a session, the 100 messages/s at 20 sessions/s.
    exchanges: tuple[int, int] = (1, 3)
    think: tuple[float, float] = (0.3, 1.2)
    accept_delay: tuple[float, float] = (0.1, 1.5)
    expire_ratio: float = 0.05  # offers an agent lets run out
    accept_timeout: int = 4
    idle_timeout: int = 4
    drain: float = 15.0  # seconds allowed, after the run, for open chats to finish
    reply_timeout: float = 20.0  # how long a customer waits for an agent's answer
    connect_rate: float = 40.0  # agents opening their workspace per second at the start
    profile: bool = False  # py-spy a daphne and a worker mid-run
    # Typing before each message and a read receipt for each one received, both sides, as the
    # pages send them (the workspace and chat page): about 3 more commands per message.
    tools: bool = True
    ends: dict = field(
        default_factory=lambda: {"customer": 0.45, "agent": 0.2, "leave": 0.2, "silent": 0.15}
    )


@dataclass
class Track:
    created_sent: float
    token: str = ""
    plan: str = ""
    first_offer: float | None = None
    assigned_to: set = field(default_factory=set)
    ended: str | None = None


@dataclass
class Chat:
    """A customer's view of one chat, kept across reconnects."""

    sid: str
    token: str
    plan: str
    track: Track
    sock: "Socket"
    base: str = ""
    active: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    replies: asyncio.Queue = field(default_factory=asyncio.Queue)
    seen: set = field(default_factory=set)


class Stats:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.sessions: dict[str, Track] = {}
        self.offer_latency: list[float] = []  # POST sent -> session.offered received
        self.create_rtt: list[float] = []  # POST /api/sessions/ sent -> its 201 received
        self.offer_push: list[float] = []  # commit (published_at) -> session.offered received
        self.message_latency: list[float] = []  # message sent -> message.created received
        self.message_push: list[float] = []  # commit -> message.created received
        self.channel_rtt: list[float] = []  # bare channel layer send -> receive, from here
        self.idle_rtt: list[float] = []  # the same from a separate, otherwise idle process
        # Every push split at the daphne's send (its frame's `ts`): where the time went.
        self.push_to_daphne: list[float] = []  # commit -> the consumer sends the frame
        self.daphne_to_client: list[float] = []  # the consumer sends it -> it arrives here
        self.errors: Counter = Counter()
        self.status: Counter = Counter()
        self.messages_sent = 0
        self.messages_received = 0
        self.created = 0
        self.gaps = 0
        self.served_twice: set[str] = set()
        self.early_offers: dict[str, float] = {}
        self.window: tuple[float, float] = (0.0, 0.0)
        self.cpu: dict[str, float] = {}  # CPU seconds each process used within the window

    def push_delay(self, frame: dict, into: list[float]) -> None:
        published = frame.get("published_at")
        if not isinstance(published, int | float):
            return
        now = time.time()
        into.append(max(0.0, now - published))
        try:
            sent = datetime.fromisoformat(frame["ts"].replace("Z", "+00:00")).timestamp()
        except (KeyError, AttributeError, ValueError):
            return
        # `ts` has millisecond resolution: both halves are within 1 ms.
        self.push_to_daphne.append(max(0.0, sent - published))
        self.daphne_to_client.append(max(0.0, now - sent))


GAP_GRACE = 1.0  # seconds a seq hole may stay open before it counts as a lost event


class Socket:
    """A WebSocket with ack/error matching by `ref` and `seq` gap detection."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.ws = None
        self.seq: int | None = None
        self.missing: set[int] = set()
        self.waiting: dict[str, asyncio.Future] = {}

    async def command(self, frame: dict, timeout: float = 10.0) -> dict:
        ref = uuid.uuid4().hex[:12]
        future = asyncio.get_running_loop().create_future()
        self.waiting[ref] = future
        try:
            await self.ws.send(json.dumps({**frame, "ref": ref}))
            reply = await asyncio.wait_for(future, timeout)
        except (TimeoutError, ConnectionClosed, OSError) as exc:
            self.stats.errors[f"ws_{type(exc).__name__}"] += 1
            return {"type": "error", "code": type(exc).__name__}
        finally:
            self.waiting.pop(ref, None)
        if reply["type"] == "error":
            self.stats.errors[f"ws_error_{reply.get('code')}"] += 1
        return reply

    def route(self, frame: dict) -> bool:
        """Settle a pending command; check seq. True when the frame is an event to handle."""
        kind = frame.get("type")
        if kind in ("ack", "error"):
            future = self.waiting.get(frame.get("ref"))
            if future is not None and not future.done():
                future.set_result(frame)
            elif kind == "error":
                self.stats.errors[f"ws_unsolicited_{frame.get('code')}"] += 1
            return False
        seq = frame.get("seq")
        if kind == "hello":
            self.seq = seq
            self.missing.clear()  # the snapshot covers everything up to its seq
            return True
        if isinstance(seq, int) and self.seq is not None:
            self.missing.discard(seq)  # a late one from another process fills its hole
            if seq > self.seq + 1:
                # API.md: events from different processes may arrive out of order; only a
                # hole not filled within a second is a loss.
                hole = set(range(self.seq + 1, seq))
                self.missing |= hole
                asyncio.get_running_loop().call_later(GAP_GRACE, self._judge, hole)
            self.seq = max(self.seq, seq)
        return True

    def _judge(self, hole: set[int]) -> None:
        if hole & self.missing:
            self.missing -= hole
            self.stats.gaps += 1
            self.stats.errors["push_gap"] += 1
            asyncio.get_running_loop().create_task(self.sync())

    async def sync(self) -> None:
        with contextlib.suppress(ConnectionClosed, OSError):
            await self.ws.send(json.dumps({"type": "sync"}))


class AgentClient:
    """One agent: stays connected (reconnecting to the next daphne), accepts, replies, ends."""

    def __init__(self, index: int, agent_id: int, token: str, urls: list[str], run: "Run"):
        self.index, self.agent_id, self.token, self.urls, self.run = (
            index,
            agent_id,
            token,
            urls,
            run,
        )
        self.stats = run.stats
        self.sock = Socket(self.stats)
        self.url_index = index % len(urls)
        self.connected = asyncio.Event()
        self.handled_offers: set[str] = set()
        self.connects = 0
        self.failures = 0
        self.connected_at = 0.0

    def healthy(self) -> bool:
        """The last connection got a hello and lived a while: reconnect at once."""
        return time.monotonic() - self.connected_at > 5

    def ws_url(self) -> tuple[str, str]:
        base = self.urls[self.url_index]
        return base.replace("http://", "ws://") + "/ws/agent/", base

    async def main(self) -> None:
        while not self.run.stopping:
            uri, origin = self.ws_url()
            try:
                async with ws_connect(
                    uri,
                    additional_headers={"Authorization": f"Token {self.token}"},
                    origin=origin,
                    compression=None,
                    open_timeout=10,
                    ping_interval=None,
                    max_queue=None,
                ) as ws:
                    self.sock.ws = ws
                    self.sock.seq = None
                    self.connects += 1
                    self.connected_at = time.monotonic()
                    await self.session(ws)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 -- refused handshakes too: keep trying
                if self.run.stopping:
                    return
                self.stats.errors[f"agent_disconnect_{type(exc).__name__}"] += 1
            self.connected.clear()
            # The other daphne takes over: the workspace rebuilds from its hello. Backoff with
            # jitter, as the browser does, so a crowd of reconnects does not stampede.
            self.url_index = (self.url_index + 1) % len(self.urls)
            self.failures = 0 if self.sock.seq is not None and self.healthy() else self.failures + 1
            await asyncio.sleep(min(10.0, 0.25 * 2 ** min(self.failures, 6)) * random.random())

    async def session(self, ws) -> None:
        heartbeat = asyncio.get_running_loop().create_task(self.heartbeat())
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if self.sock.route(frame):
                    await self.on_event(frame)
        finally:
            heartbeat.cancel()

    async def heartbeat(self) -> None:
        while True:
            await asyncio.sleep(5 + random.random())
            await self.sock.command({"type": "heartbeat"})

    async def on_event(self, frame: dict) -> None:
        kind = frame["type"]
        if kind == "hello":
            if frame["agent"]["status"] != "online":
                asyncio.get_running_loop().create_task(self.go_online())
            else:
                self.connected.set()
            for session in frame.get("sessions", []):
                if session["state"] == "offered":
                    self.on_offer(session["id"])
                elif session["state"] == "active" and self.connects > 1:
                    asyncio.get_running_loop().create_task(self.catch_up(session["id"]))
            return
        if kind == "session.offered":
            sid = frame["session"]["id"]
            track = self.stats.sessions.get(sid)
            if track is None:  # the offer beat the POST's response to the customer
                self.stats.early_offers.setdefault(sid, time.monotonic())
            elif track.first_offer is None:
                track.first_offer = time.monotonic()
                self.stats.offer_latency.append(track.first_offer - track.created_sent)
            self.stats.push_delay(frame, self.stats.offer_push)
            self.on_offer(sid)
        elif kind == "session.assigned":
            sid = frame["session"]["id"]
            track = self.stats.sessions.get(sid)
            if track is not None:
                track.assigned_to.add(self.agent_id)
                if len(track.assigned_to) > 1:
                    self.stats.served_twice.add(sid)
        elif kind == "message.created":
            message = frame["message"]
            if message["sender"] != "customer":
                return
            self.stats.messages_received += 1
            when = sent_at(message["body"])
            if when is not None:
                self.stats.message_latency.append(time.time() - when)
            self.stats.push_delay(frame, self.stats.message_push)
            if self.run.cfg.tools:
                read = {"type": "message.read", "session_id": message["session_id"]}
                self.run.fire(self.sock, {**read, "message_id": message["id"]})
            asyncio.get_running_loop().create_task(self.reply(message))

    async def catch_up(self, sid: str) -> None:
        """After a reconnect: answer a customer message that arrived while we were away."""
        url = f"{self.urls[self.url_index]}/api/sessions/{sid}/messages/?limit=500"
        try:
            response = await self.run.http.get(
                url, headers={"Authorization": f"Token {self.token}"}
            )
        except httpx.HTTPError:
            return
        if response.status_code != 200:
            return
        body = response.json()
        messages = body.get("results", []) if isinstance(body, dict) else body
        if messages and messages[-1]["sender"] == "customer":
            self.stats.status["caught_up_after_reconnect"] += 1
            await self.reply(messages[-1])

    async def go_online(self) -> None:
        reply = await self.sock.command({"type": "agent.status", "status": "online"})
        if reply.get("type") == "ack":
            self.connected.set()

    def on_offer(self, sid: str) -> None:
        if sid in self.handled_offers:
            return
        self.handled_offers.add(sid)
        if random.random() < self.run.cfg.expire_ratio:
            self.stats.status["offers_let_expire"] += 1
            return
        asyncio.get_running_loop().create_task(self.accept(sid))

    async def accept(self, sid: str) -> None:
        await asyncio.sleep(random.uniform(*self.run.cfg.accept_delay))
        reply = await self.sock.command({"type": "session.accept", "session_id": sid})
        self.stats.status["accepted" if reply["type"] == "ack" else "accept_refused"] += 1

    async def reply(self, message: dict) -> None:
        sid = message["session_id"]
        if self.run.cfg.tools:
            self.run.fire(self.sock, {"type": "typing", "session_id": sid})
        await asyncio.sleep(random.uniform(*self.run.cfg.think))
        body = stamp("agent reply")
        reply = await self.sock.command({"type": "message.send", "session_id": sid, "body": body})
        if reply["type"] == "ack":
            self.stats.messages_sent += 1
        if "[end]" in message["body"]:
            await asyncio.sleep(random.uniform(*self.run.cfg.think))
            await self.sock.command({"type": "session.end", "session_id": sid})


class HttpShards:
    """Several small httpx clients used in turn, as one.

    One client with a pool of 200 connections spent 70 % of this process's CPU in httpcore
    checking every pooled connection on every request (py-spy): the load client, not the
    desk, was what made POST /api/sessions/ take seconds.
    """

    def __init__(self, shards: int, timeout: float) -> None:
        limits = httpx.Limits(max_connections=25, max_keepalive_connections=25)
        self.clients = [httpx.AsyncClient(timeout=timeout, limits=limits) for _ in range(shards)]
        self.turn = 0

    async def __aenter__(self) -> "HttpShards":
        return self

    async def __aexit__(self, *exc) -> None:
        await asyncio.gather(*(client.aclose() for client in self.clients))

    def _next(self) -> httpx.AsyncClient:
        self.turn = (self.turn + 1) % len(self.clients)
        return self.clients[self.turn]

    async def get(self, url: str, **kwargs) -> httpx.Response:
        return await self._next().get(url, **kwargs)

    async def post(self, url: str, **kwargs) -> httpx.Response:
        return await self._next().post(url, **kwargs)


class Run:
    def __init__(self, cfg: Config, urls: list[str], redis_url: str):
        self.cfg, self.urls, self.redis_url = cfg, urls, redis_url
        self.stats = Stats()
        self.stopping = False
        self.customers: set[asyncio.Task] = set()
        self.http: HttpShards | None = None
        self.side: asyncio.Task | None = None
        self.cpu_probe = dict  # run_load() sets one that reads /proc

    # --- customers ---------------------------------------------------------------------------

    async def post(self, url: str, **kwargs) -> httpx.Response | None:
        try:
            response = await self.http.post(url, **kwargs)
        except httpx.HTTPError as exc:
            self.stats.errors[f"http_{type(exc).__name__}"] += 1
            return None
        if response.status_code >= 400:
            self.stats.errors[f"http_{response.status_code}"] += 1
        return response

    async def customer(self, n: int) -> None:
        """One customer: create a chat, follow it over a WebSocket (reconnecting), talk, leave."""
        cfg, stats = self.cfg, self.stats
        base = random.choice(self.urls)
        plan = random.choices(list(cfg.ends), weights=list(cfg.ends.values()))[0]
        created_sent = time.monotonic()
        response = await self.post(
            f"{base}/api/sessions/",
            json={"customer_name": f"Customer {n}", "message": stamp("hello")},
        )
        if response is None or response.status_code != 201:
            return
        stats.create_rtt.append(time.monotonic() - created_sent)
        data = response.json()
        sid, token = data["id"], data["customer_token"]
        stats.created += 1
        stats.messages_sent += 1
        track = stats.sessions[sid] = Track(created_sent=created_sent, token=token, plan=plan)
        early = stats.early_offers.pop(sid, None)
        if early is not None:
            track.first_offer = early
            stats.offer_latency.append(early - created_sent)
        chat = Chat(sid=sid, token=token, plan=plan, track=track, sock=Socket(stats))
        talking = asyncio.get_running_loop().create_task(self.converse(chat))
        urls = self.urls[self.urls.index(base) :] + self.urls[: self.urls.index(base)]
        failures = 0  # handshakes failed in a row
        for attempt in range(30):
            if talking.done():
                break
            base = urls[attempt % len(urls)]
            chat.base = base
            uri = f"{base.replace('http://', 'ws://')}/ws/customer/{sid}/?token={token}"
            try:
                async with ws_connect(
                    uri, origin=base, compression=None, open_timeout=10, ping_interval=None
                ) as ws:
                    chat.sock.ws = ws
                    chat.connected.set()
                    failures = 0
                    reading = asyncio.get_running_loop().create_task(self.read(ws, chat))
                    await asyncio.wait({talking, reading}, return_when=asyncio.FIRST_COMPLETED)
                    reading.cancel()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 -- refused handshakes too: keep trying
                if attempt == 0:
                    stats.errors[f"customer_connect_{type(exc).__name__}"] += 1
                failures += 1
            chat.connected.clear()
            if not talking.done():
                stats.errors["customer_reconnect"] += 1
                # As the chat page does (live.js): exponential backoff capped at 15 s, with
                # jitter. A fixed short pause made every busy moment a reconnect storm.
                cap = min(15.0, 0.5 * 2**failures)
                await asyncio.sleep(cap / 2 + random.random() * cap / 2)
        if not talking.done():
            stats.errors["customer_gave_up"] += 1
            talking.cancel()

    async def read(self, ws, chat: "Chat") -> None:
        stats = self.stats
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                frame = json.loads(raw)
                if not chat.sock.route(frame):
                    continue
                kind = frame["type"]
                session = frame.get("session") or {}
                if session.get("state") == "active":
                    chat.active.set()
                if kind == "hello":
                    # Rebuild from the snapshot: replies sent while we were away count too.
                    for message in frame.get("messages", []):
                        if message["sender"] == "agent" and message["id"] not in chat.seen:
                            chat.seen.add(message["id"])
                            chat.replies.put_nowait(message)
                if kind == "session.ended" or session.get("state") == "ended":
                    chat.track.ended = frame.get("reason") or session.get("end_reason")
                    idle_end = chat.track.ended == "customer_idle_timeout"
                    if idle_end and kind == "session.ended" and not frame.get("notice"):
                        stats.errors["idle_end_without_notice"] += 1
                    chat.ended.set()
                elif kind == "message.created" and frame["message"]["sender"] == "agent":
                    message = frame["message"]
                    if message["id"] in chat.seen:
                        continue
                    chat.seen.add(message["id"])
                    stats.messages_received += 1
                    when = sent_at(message["body"])
                    if when is not None:
                        stats.message_latency.append(time.time() - when)
                    stats.push_delay(frame, stats.message_push)
                    if self.cfg.tools:
                        self.fire(chat.sock, {"type": "message.read", "message_id": message["id"]})
                    chat.replies.put_nowait(message)

    async def send_ws(self, chat: "Chat", frame: dict) -> bool:
        try:
            await asyncio.wait_for(chat.connected.wait(), 10)
        except TimeoutError:
            return False
        return (await chat.sock.command(frame))["type"] == "ack"

    async def converse(self, chat: "Chat") -> None:
        cfg, stats = self.cfg, self.stats
        headers = {"X-Customer-Token": chat.token}
        try:
            await asyncio.wait_for(chat.active.wait(), cfg.accept_timeout * 3 + cfg.reply_timeout)
        except TimeoutError:
            stats.errors["not_served_in_time"] += 1
            await self.post(f"{chat.base}/api/sessions/{chat.sid}/end/", headers=headers)
            return
        exchanges = random.randint(*cfg.exchanges)
        for i in range(exchanges):
            if chat.ended.is_set():
                break
            last = i == exchanges - 1
            if self.cfg.tools and chat.connected.is_set():
                self.fire(chat.sock, {"type": "typing"})
            body = stamp(f"question {i}" + (" [end]" if last and chat.plan == "agent" else ""))
            if i % 2:
                url = f"{chat.base}/api/sessions/{chat.sid}/messages/"
                response = await self.post(url, json={"body": body}, headers=headers)
                ok = response is not None and response.status_code == 201
            else:
                ok = await self.send_ws(chat, {"type": "message.send", "body": body})
            if ok:
                stats.messages_sent += 1
            try:
                await asyncio.wait_for(chat.replies.get(), cfg.reply_timeout)
            except TimeoutError:
                stats.errors["reply_timeout"] += 1
                break
            await asyncio.sleep(random.uniform(*cfg.think))
        if chat.plan == "customer" and not chat.ended.is_set():
            if random.random() < 0.5:
                await self.send_ws(chat, {"type": "session.end"})
            else:
                await self.post(f"{chat.base}/api/sessions/{chat.sid}/end/", headers=headers)
            chat.track.ended = chat.track.ended or "customer_ended"
        elif chat.plan == "leave":
            chat.track.ended = chat.track.ended or "left"
        else:  # the agent ends, or the customer goes silent into the idle end
            try:
                await asyncio.wait_for(chat.ended.wait(), cfg.idle_timeout + cfg.reply_timeout)
            except TimeoutError:
                stats.errors[f"{chat.plan}_end_not_seen"] += 1

    def fire(self, sock: "Socket", frame: dict) -> None:
        """A command whose answer nobody waits for (typing, a read receipt): counted, and an
        error answer counted by its code."""

        async def send() -> None:
            try:
                reply = await sock.command(frame, timeout=10)
            except (ConnectionClosed, OSError, TimeoutError, AttributeError):
                self.stats.status[f"{frame['type']}_lost"] += 1
                return
            kind = "sent" if reply.get("type") == "ack" else f"refused_{reply.get('code')}"
            self.stats.status[f"{frame['type']}_{kind}"] += 1

        asyncio.get_running_loop().create_task(send())

    # --- the bare channel layer, as the yardstick --------------------------------------------

    async def channel_rtt(self) -> None:
        # The same kind of layer the desk runs on, as the idle process's probe uses.
        layer = layer_class()(
            hosts=[{"address": self.redis_url, "socket_timeout": 10}], prefix="ccrtt"
        )
        channel = await layer.new_channel()
        while not self.stopping:
            start = time.perf_counter()
            try:
                await layer.send(channel, {"type": "rtt"})
                await asyncio.wait_for(layer.receive(channel), 5)
                self.stats.channel_rtt.append(time.perf_counter() - start)
            except Exception as exc:  # noqa: BLE001 -- Redis may be down during a fault
                self.stats.errors[f"rtt_{type(exc).__name__}"] += 1
                await asyncio.sleep(0.5)
            await asyncio.sleep(0.1)
        with contextlib.suppress(Exception):
            await layer.flush()

    # --- the run -----------------------------------------------------------------------------

    async def arrivals(self, until: float) -> None:
        n = 0
        next_at = time.monotonic()
        while not self.stopping and (
            time.monotonic() < until or (self.side is not None and not self.side.done())
        ):
            n += 1
            task = asyncio.get_running_loop().create_task(self.customer(n))
            self.customers.add(task)
            task.add_done_callback(self.customers.discard)
            next_at += random.expovariate(self.cfg.rate)
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def go(self, agents: list[dict], during=None) -> None:
        """Connect agents, run arrivals for the duration (with `during` alongside), drain."""
        async with HttpShards(shards=8, timeout=15) as http:
            self.http = http
            clients = [
                AgentClient(i, a["id"], a["token"], self.urls, self) for i, a in enumerate(agents)
            ]
            agent_tasks = []
            for client in clients:
                agent_tasks.append(asyncio.get_running_loop().create_task(client.main()))
                await asyncio.sleep(1 / self.cfg.connect_rate)
            ready = asyncio.gather(*(c.connected.wait() for c in clients))
            try:
                await asyncio.wait_for(ready, 60 + len(clients) * 0.1)
            except TimeoutError:
                online = sum(c.connected.is_set() for c in clients)
                print(f"only {online}/{len(clients)} agents online: {dict(self.stats.errors)}")
                raise
            self.agent_clients = clients
            rtt = asyncio.get_running_loop().create_task(self.channel_rtt())
            idle = IdleProbe(self.redis_url)
            start = time.monotonic()
            cpu_before = self.cpu_probe()
            until = start + self.cfg.duration
            side = asyncio.get_running_loop().create_task(during(self)) if during else None
            self.side = side
            await self.arrivals(until)
            self.stats.window = (start, time.monotonic())
            self.stats.idle_rtt, failed = idle.stop()
            if failed:
                self.stats.errors["idle_rtt_failed"] += failed
            cpu_after = self.cpu_probe()
            self.stats.cpu = {
                name: used - cpu_before.get(name, 0.0) for name, used in cpu_after.items()
            }
            if side is not None:
                await side  # raises what the fault driver raised
            if self.customers:
                await asyncio.wait(
                    set(self.customers), timeout=self.cfg.drain + self.cfg.reply_timeout
                )
            for task in list(self.customers):
                task.cancel()
            self.stopping = True
            for sock_task in agent_tasks:
                sock_task.cancel()
            rtt.cancel()
            await asyncio.gather(*agent_tasks, rtt, return_exceptions=True)


class IdleProbe:
    """bench/rtt_probe.py in a process of its own, for the window of the load."""

    def __init__(self, redis_url: str) -> None:
        fd, name = tempfile.mkstemp(prefix="cc-idle-rtt-", suffix=".txt")
        os.close(fd)
        self.out = Path(name)
        script = Path(__file__).resolve().parent / "rtt_probe.py"
        self.proc = subprocess.Popen(
            [sys.executable, str(script), redis_url, str(self.out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> tuple[list[float], int]:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        try:
            return read_probe(str(self.out))
        finally:
            self.out.unlink(missing_ok=True)


def timer_lateness(topo: Topology, since: float) -> dict[str, list[float]]:
    rows = topo.psql(
        "select kind, (data->>'late_ms')::float from sessions_app_sessionevent "
        "where kind in ('offer.expired', 'session.idle_timeout') "
        f"and created_at >= to_timestamp({since})"
    )
    found: dict[str, list[float]] = defaultdict(list)
    for kind, late_ms in rows:
        found[kind].append(late_ms / 1000)
    return found


def routing_delay(topo: Topology, since: float) -> list[float]:
    """Server side only: a session's creation to its first offer (or assignment), from the rows."""
    rows = topo.psql(
        "select extract(epoch from min(e.created_at) - s.created_at) "
        "from sessions_app_chatsession s join sessions_app_sessionevent e on e.session_id = s.id "
        "where e.kind in ('offer.made', 'session.assigned') "
        f"and s.created_at >= to_timestamp({since}) group by s.id, s.created_at"
    )
    return [float(row[0]) for row in rows]


def check_invariants(topo: Topology) -> tuple[int, str]:
    result = topo.manage("check_invariants", "--grace", "5", check=False)
    return result.returncode, (result.stdout + result.stderr).strip()


def sessions_not_found(topo: Topology, stats: Stats) -> list[str]:
    """Sessions the customers created that the database does not hold, or holds broken."""
    ids = list(stats.sessions)
    if not ids:
        return []
    quoted = ",".join(f"'{sid}'" for sid in ids)
    rows = topo.psql(
        f"select id::text, state, end_reason, ended_at from sessions_app_chatsession "
        f"where id in ({quoted})"
    )
    found = {row[0]: row for row in rows}
    lost = [sid for sid in ids if sid not in found]
    lost += [
        sid
        for sid, state, reason, ended_at in found.values()
        if state == "ended" and (not reason or ended_at is None)
    ]
    return lost


def served_twice_in_db(topo: Topology) -> list[str]:
    rows = topo.psql(
        "select session_id::text from sessions_app_offer where outcome = 'accepted' "
        "group by session_id having count(*) > 1"
    )
    return [row[0] for row in rows]


def report(run: Run, topo: Topology, since: float) -> dict:
    stats = run.stats
    start, end = stats.window
    seconds = max(end - start, 1e-9)
    lateness = timer_lateness(topo, since)
    all_late = [v for values in lateness.values() for v in values]
    invariants_status, invariants_text = check_invariants(topo)
    daphne_rss = {
        name: proc.peak_rss_mb() for name, proc in topo.procs.items() if name.startswith("daphne")
    }
    status_5xx = sum(n for kind, n in stats.errors.items() if kind.startswith("http_5"))
    result = {
        "sessions_created": stats.created,
        "sessions_per_s": stats.created / seconds,
        "messages_sent": stats.messages_sent,
        "messages_per_s": stats.messages_sent / seconds,
        "offer_latency": stats.offer_latency,
        "offer_push": stats.offer_push,
        "routing_delay": routing_delay(topo, since),
        "create_rtt": stats.create_rtt,
        "message_latency": stats.message_latency,
        "message_push": stats.message_push,
        "channel_rtt": stats.channel_rtt,
        "idle_rtt": stats.idle_rtt,
        "push_to_daphne": stats.push_to_daphne,
        "daphne_to_client": stats.daphne_to_client,
        "timer_lateness": all_late,
        "timer_lateness_by_kind": dict(lateness),
        "errors": dict(stats.errors),
        "http_5xx": status_5xx,
        "gaps": stats.gaps,
        "served_twice": sorted(stats.served_twice | set(served_twice_in_db(topo))),
        "lost": sessions_not_found(topo, stats),
        "daphne_peak_rss_mb": daphne_rss,
        "cpu_percent": {name: 100 * used / seconds for name, used in stats.cpu.items()},
        # Every process's CPU (the load client's included) over the chats created meanwhile.
        "cpu_ms_per_chat": 1000 * sum(stats.cpu.values()) / max(stats.created, 1),
        "invariants_status": invariants_status,
        "invariants": invariants_text,
        "status": dict(stats.status),
        "seconds": seconds,
    }
    return result


def print_report(result: dict) -> None:
    print(f"\n=== load: {result['seconds']:.0f} s ===")
    print(f"sessions created   {result['sessions_created']:7d}  ({result['sessions_per_s']:.1f}/s)")
    print(f"messages sent      {result['messages_sent']:7d}  ({result['messages_per_s']:.1f}/s)")
    print(f"{'latency (ms)':32s}    p50     p95     p99   count")
    rows = [
        ("offer: POST -> agent frame", "offer_latency"),
        ("offer: commit -> agent frame", "offer_push"),
        ("offer: created -> offered (rows)", "routing_delay"),
        ("create: POST -> 201", "create_rtt"),
        ("message: send -> other side", "message_latency"),
        ("message: commit -> other side", "message_push"),
        ("  push: commit -> daphne sends", "push_to_daphne"),
        ("  push: daphne sends -> client", "daphne_to_client"),
        ("bare round trip, idle process", "idle_rtt"),
        ("bare round trip, load process", "channel_rtt"),
        ("timer lateness (all timers)", "timer_lateness"),
    ]
    for label, key in rows:
        values = result[key]
        print(
            f"{label:32s} {ms(pct(values, 50))} {ms(pct(values, 95))} {ms(pct(values, 99))} "
            f"{len(values):7d}"
        )
    for kind, values in result["timer_lateness_by_kind"].items():
        print(f"  {kind:30s} {ms(pct(values, 50))} {ms(pct(values, 95))} {ms(pct(values, 99))} "
              f"{len(values):7d}")  # fmt: skip
    for label, key in (("offer", "offer_push"), ("message", "message_push")):
        p99 = pct(result[key], 99)
        for name, rtt in (("idle process", "idle_rtt"), ("load process", "channel_rtt")):
            rtt99 = pct(result.get(rtt, []), 99)
            if rtt99 and p99:
                print(f"{label} push p99 / bare p99 ({name}) = {p99 / rtt99:.1f}x (goal <= 3x)")
    print(f"5xx responses      {result['http_5xx']}")
    print(f"seq gaps seen      {result['gaps']}")
    print(f"sessions lost      {len(result['lost'])}  served twice {len(result['served_twice'])}")
    print("errors by kind     " + (json.dumps(result["errors"], sort_keys=True) or "{}"))
    print("agent outcomes     " + json.dumps(result["status"], sort_keys=True))
    for name, rss in result["daphne_peak_rss_mb"].items():
        print(f"peak RSS {name:9s} {rss:.0f} MB" if rss else f"peak RSS {name}: n/a")
    cpu = result["cpu_percent"]
    if cpu:
        shares = ", ".join(f"{name} {share:.0f}" for name, share in sorted(cpu.items()))
        print(f"CPU % of one core  {shares} (total {sum(cpu.values()):.0f} of {os.cpu_count()}00)")
        print(f"CPU per chat     {result['cpu_ms_per_chat']:.1f} ms (all processes, this included)")
    print(f"check_invariants   exit {result['invariants_status']}: {result['invariants']}")
    if "python_speed_ms" in result:
        speed = result["python_speed_ms"]
        print(f"machine speed      {speed:.1f} ms for a 1e6-step Python loop (lower is faster)")


def service_settings(cfg: Config) -> dict:
    return {
        "service_mode": "manual",
        "accept_timeout_seconds": cfg.accept_timeout,
        "customer_idle_timeout_seconds": cfg.idle_timeout,
        "default_max_sessions": cfg.max_sessions,
        "presence_grace_seconds": 60,
    }


def profile(topo: Topology, names: list[str], seconds: float) -> list:
    """py-spy each named process (with its children) for `seconds`; raw stacks in the logs.

    Only threads holding the GIL are sampled, so the shares are of CPU, not of waiting.
    """
    procs = []
    for name in names:
        out = topo.logs / f"profile-{name}.txt"
        argv = [
            str(Path(sys.executable).parent / "py-spy"), "record", "--pid",
            str(topo.procs[name].pid), "--duration", str(int(seconds)), "--rate", "50",
            "--format", "raw", "--subprocesses", "--nonblocking", "--gil", "--output", str(out),
        ]  # fmt: skip
        procs.append((name, out, subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                                  stderr=subprocess.STDOUT)))  # fmt: skip
    return procs


def summarize_profile(path: Path, top: int = 12) -> str:
    """The functions where the samples were, by self time and by our code's inclusive time."""
    own: Counter = Counter()
    ours: Counter = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            if any(f"({app}/" in frame for app in ("sessions_app", "agents_app", "bench")):
                ours[frame] += n
    lines = [f"{path.name}: {total} samples", "  self:"]
    lines += [f"    {n / total:5.1%} {f[:150]}" for f, n in own.most_common(top)]
    lines += ["  inclusive, our code:"]
    lines += [f"    {n / total:5.1%} {f[:150]}" for f, n in ours.most_common(top)]
    return "\n".join(lines)


def cpu_probe(topo: Topology):
    """CPU seconds so far of every process of the topology and of this load client."""

    def probe() -> dict[str, float]:
        own = os.times()
        return {**topo.cpu_seconds(), "load client": own.user + own.system}

    return probe


def run_load(cfg: Config, topo: Topology, during=None) -> dict:
    seeded = topo.seed(agents=cfg.agents, settings=service_settings(cfg))
    since = time.time()
    run = Run(cfg, topo.urls, topo.redis_url)
    run.cpu_probe = cpu_probe(topo)
    if cfg.profile:
        # Sample in the middle of the run, once the agents are on and the load is steady.
        async def profiled(run: Run) -> None:
            await asyncio.sleep(cfg.duration / 3)
            seconds = min(20, cfg.duration / 3)
            spies = profile(topo, ["daphne0", "worker0"], seconds)
            await asyncio.sleep(seconds + 5)
            for _, _, spy in spies:  # py-spy can hang on a busy process: never wait for it
                if spy.poll() is None:
                    spy.terminate()
            if during is not None:
                await during(run)

        asyncio.run(run.go(seeded["agents"], during=profiled))
    else:
        asyncio.run(run.go(seeded["agents"], during=during))
    result = report(run, topo, since)
    if cfg.profile:
        result["profile"] = "\n".join(
            summarize_profile(path)
            for path in sorted(topo.logs.glob("profile-*.txt"))
            if path.stat().st_size
        )
        if not topo.pg_url:
            result["profile"] += (
                "\ndatabase: total ms | calls | mean ms | statement\n" + topo.top_statements()
            )
    result["run"] = run
    return result


KNEE_CREATE_P99 = 0.5  # seconds: past this, a customer waits too long for the chat to open
KNEE_TIMER_P99 = 0.25  # seconds: past this, offers and idle ends run noticeably late


def find_knee(cfg: Config, topo: Topology, step: float, top: float) -> dict:
    """Raise the rate by `step` from `cfg.rate`, one run of `cfg.duration` each on the same
    topology, until the create p99 passes KNEE_CREATE_P99 or a timer p99 KNEE_TIMER_P99 (or an
    invariant breaks, or a 5xx is answered). Prints a line per rate; returns the steps and the
    last rate that held."""
    print(
        f"{'rate':>6s} {'created/s':>9s} {'msgs/s':>7s} {'create p99':>10s} {'timer p99':>9s} "
        f"{'CPU of ' + str(os.cpu_count()) + '00':>10s} {'CPU/chat':>8s}  held"
    )
    steps, held_at, rate = [], None, cfg.rate
    while rate <= top:
        result = run_load(replace(cfg, rate=rate), topo)
        create99 = pct(result["create_rtt"], 99) or 0.0
        timer99 = pct(result["timer_lateness"], 99) or 0.0
        held = (
            create99 <= KNEE_CREATE_P99
            and timer99 <= KNEE_TIMER_P99
            and result["invariants_status"] == 0
            and not result["http_5xx"]
        )
        cpu = sum(result["cpu_percent"].values())
        print(
            f"{rate:6.0f} {result['sessions_per_s']:9.1f} {result['messages_per_s']:7.1f} "
            f"{create99 * 1000:8.0f} ms {timer99 * 1000:6.0f} ms {cpu:10.0f} "
            f"{result['cpu_ms_per_chat']:5.1f} ms  {'yes' if held else 'no'}",
            flush=True,
        )
        steps.append(
            {
                "rate": rate,
                "sessions_per_s": result["sessions_per_s"],
                "messages_per_s": result["messages_per_s"],
                "create_p99_ms": create99 * 1000,
                "timer_p99_ms": timer99 * 1000,
                "cpu_percent": cpu,
                "cpu_ms_per_chat": result["cpu_ms_per_chat"],
                "held": held,
            }
        )
        if not held:
            break
        held_at = rate
        rate += step
    print(
        f"knee: the last rate that held was {held_at:.0f} chats/s"
        if held_at is not None
        else f"knee: below {cfg.rate:.0f} chats/s (the first rate did not hold)"
    )
    return {"steps": steps, "knee": held_at}


def python_speed_ms() -> float:
    """A fixed pure-Python loop, best of 5, in ms: how fast this machine is today.

    Shared virtual machines differ from day to day; figures from two runs compare only when
    this does too (lower is faster).
    """
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i & 7
        best = min(best, time.perf_counter() - start)
    return best * 1000


def span(text: str) -> tuple[int, int]:
    """MIN-MAX, as for --exchanges."""
    low, _, high = text.partition("-")
    try:
        pair = (int(low), int(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN-MAX, got {text!r}") from None
    if not 0 <= pair[0] <= pair[1]:
        raise argparse.ArgumentTypeError(f"expected 0 <= MIN <= MAX, got {text!r}")
    return pair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=120)
    parser.add_argument("--rate", type=float, default=20, help="new sessions per second")
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--expire-ratio", type=float, default=0.05)
    parser.add_argument(
        "--accept-timeout", type=int, default=4, help="seconds an offer stands (desk default 30)"
    )
    parser.add_argument(
        "--exchanges",
        type=span,
        default=(1, 3),
        help="customer message + agent reply pairs per session, as MIN-MAX (2-4: ~140 msgs/s)",
    )
    parser.add_argument("--urls", default="", help="comma-separated daphne URLs to use")
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--json", default="", help="also write the figures to this file")
    parser.add_argument("--profile", action="store_true", help="py-spy a daphne and a worker")
    parser.add_argument(
        "--no-tools",
        action="store_true",
        help="no typing or read receipts (as the load was before they existed)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed the load's random choices")
    parser.add_argument(
        "--find-knee",
        action="store_true",
        help="raise --rate by --knee-step (one --duration run each) until the create p99 passes "
        "500 ms or a timer p99 250 ms; print the last rate that held",
    )
    parser.add_argument("--knee-step", type=float, default=10)
    parser.add_argument("--knee-max", type=float, default=200)
    args = parser.parse_args()
    if args.seed is not None:
        random.seed(args.seed)
    speed = python_speed_ms()  # before anything else runs, and said first
    print(f"machine speed      {speed:.1f} ms for a 1e6-step Python loop (lower is faster)")
    cfg = Config(
        duration=args.duration,
        rate=args.rate,
        agents=args.agents,
        expire_ratio=args.expire_ratio,
        exchanges=args.exchanges,
        accept_timeout=args.accept_timeout,
        profile=args.profile,
        tools=not args.no_tools,
    )
    if args.find_knee:
        if args.urls:
            knee = find_knee(
                cfg,
                Topology.attach(args.urls.split(","), args.redis_url, args.database_url),
                args.knee_step,
                args.knee_max,
            )
        else:
            with Topology() as topo:
                knee = find_knee(cfg, topo, args.knee_step, args.knee_max)
        knee["python_speed_ms"] = speed
        if args.json:
            Path(args.json).write_text(json.dumps(knee))
        sys.exit(0)
    if args.urls:
        topo = Topology.attach(args.urls.split(","), args.redis_url, args.database_url)
        result = run_load(cfg, topo)
    else:
        with Topology() as topo:
            result = run_load(cfg, topo)
    result["python_speed_ms"] = speed
    print_report(result)
    if result.get("profile"):
        print("\n=== where the time went (py-spy) ===\n" + result["profile"])
    if args.json:
        figures = {k: v for k, v in result.items() if k != "run"}
        Path(args.json).write_text(json.dumps(figures, default=str))
    sys.exit(0 if result["invariants_status"] == 0 and not result["http_5xx"] else 1)


if __name__ == "__main__":
    main()
