"""Helpers for consumer tests: a WebsocketCommunicator on the real app and the real Redis layer."""

import asyncio
import json

from channels.testing import WebsocketCommunicator
from django.db import connection, connections

from contactcenter.asgi import application

ORIGIN = (b"origin", b"http://127.0.0.1")
HOST = (b"host", b"127.0.0.1")  # a browser's socket to the page's own origin


async def in_thread(func, *args, **kwargs):
    """Run sync database code off the loop, and give its connection back to the pool after.

    A thread that ends holding a pooled connection never returns it: enough of those and a
    later test cannot connect at all.
    """

    def call():
        try:
            return func(*args, **kwargs)
        finally:
            connection.close()

    return await asyncio.to_thread(call)


def run(scenario):
    """asyncio.run, then close the connections the scenario opened on the loop's own thread.

    Under a running loop Django keeps connections per task context, not per thread: each
    scenario that touched the ORM directly held a pooled connection for good, and after a few
    dozen tests the pool had none left for the next test's threads.
    """

    async def main():
        try:
            return await scenario
        finally:
            connections.close_all()

    return asyncio.run(main())


class Client:
    """A socket that keeps every frame; `expect` waits for one of a type, skipping others."""

    def __init__(self, path: str, headers: list[tuple[bytes, bytes]] | None = None):
        self.comm = WebsocketCommunicator(
            application, path, headers=[ORIGIN, HOST, *(headers or [])]
        )
        self.frames: list[dict] = []
        self._seen = 0

    async def connect(self) -> dict:
        connected, _ = await self.comm.connect(timeout=10)
        assert connected
        return await self.expect("hello")

    async def refused_code(self) -> int | None:
        """Connect and return the close code (or None when the handshake itself was denied)."""
        connected, code = await self.comm.connect(timeout=10)
        if not connected:
            return code
        out = await self.comm.receive_output(timeout=5)
        assert out["type"] == "websocket.close", out
        return out.get("code")

    async def next(self, timeout: float = 5) -> dict:
        raw = await self.comm.receive_from(timeout=timeout)
        frame = json.loads(raw)
        self.frames.append(frame)
        return frame

    async def expect(self, kind: str, timeout: float = 5, pred=None) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for frame in self.frames[self._seen :]:
                self._seen += 1
                if frame.get("type") == kind and (pred is None or pred(frame)):
                    return frame
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no {kind} within {timeout}s; got {self.types()}")
            try:
                await self.next(timeout=left)
            except TimeoutError:
                raise AssertionError(f"no {kind} within {timeout}s; got {self.types()}") from None

    async def command(self, frame: dict, timeout: float = 5) -> dict:
        """Send a command with a ref and return its ack or error."""
        ref = frame.setdefault("ref", f"r{len(self.frames)}")
        await self.comm.send_to(text_data=json.dumps(frame))
        return await self.reply(ref, timeout)

    async def reply(self, ref, timeout: float = 5) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        index = 0
        while True:
            for frame in self.frames[index:]:
                index += 1
                if frame.get("type") in ("ack", "error") and frame.get("ref") == ref:
                    return frame
            await self.next(timeout=max(0.01, deadline - loop.time()))

    def types(self) -> list[str]:
        return [f.get("type") for f in self.frames]

    def event_seqs(self) -> list[int]:
        return [f["seq"] for f in self.frames if f.get("type") not in ("ack", "error")]

    async def close(self) -> None:
        await self.comm.disconnect()


def chat_of(agent, message: str = "My invoice is wrong") -> tuple[str, str]:
    """An active chat of `agent`'s (offered to it and accepted): its id and customer token."""
    from sessions_app.actions.create import session_create
    from sessions_app.actions.offers import offer_accept

    session, token = session_create(customer_name="Maria", message=message)
    offer_accept(session_id=session.pk, agent=agent)
    return str(session.pk), token
