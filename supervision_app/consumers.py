"""/ws/supervisor/: the live wallboard, and the transcripts a supervisor opens from it.

`hello` carries the snapshot and the `supervisors` group's `seq`; `supervisor.updated` frames
follow, at most one a second (supervision_app/live.py). `session.watch` answers with the chat
and its messages, then forwards that chat's news (`message.created`, `session.updated`,
`session.ended`) outside the wallboard's numbering (`watch_seq`). Ending and transferring are
REST calls, checked by the same access rules as every other caller's.
"""

import asyncio
import contextlib

from agents_app.selectors import transfer_targets
from core.asyncdb import database_sync_to_async
from core.roles import is_supervisor
from sessions_app import selectors
from sessions_app.access import Act, access_session
from sessions_app.consumers import NumberedConsumer, session_id_of

from . import live
from .snapshot import build_snapshot

CLOSE_NOT_SUPERVISOR = 4403
WATCHED_MAX = 20  # transcripts one socket may follow at once


@database_sync_to_async
def _is_supervisor(user) -> bool:
    return is_supervisor(user)


@database_sync_to_async
def _snapshot() -> dict:
    return build_snapshot()


@database_sync_to_async
def _transcript(session_id: str, user) -> dict:
    found = access_session(session_id, user=user).require(Act.READ_MESSAGES)
    return {
        "session": selectors.session_dict(found.session),
        "messages": [selectors.message_dict(m) for m in selectors.session_messages(found.session)],
    }


class SupervisorConsumer(NumberedConsumer):
    """The wallboard's socket: supervisors only (staff, or the Supervisors group)."""

    group = live.GROUP
    commands = {
        "session.watch": "cmd_watch",
        "session.unwatch": "cmd_unwatch",
        "transfer.targets": "cmd_transfer_targets",
        "heartbeat": "cmd_heartbeat",
        "sync": "cmd_sync",
    }

    async def connect(self):
        self.watching: set[str] = set()
        self.joined = False
        user = self.scope.get("user")
        if not await _is_supervisor(user):
            await self.accept()
            await self.close(code=CLOSE_NOT_SUPERVISOR)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        live.ticker.join()
        self.joined = True
        await self.send_hello()

    async def disconnect(self, code):
        if getattr(self, "joined", False):
            live.ticker.leave()
        for session_id in getattr(self, "watching", set()):
            await self.channel_layer.group_discard(live.watch_group(session_id), self.channel_name)
        await super().disconnect(code)

    async def snapshot(self) -> dict:
        return {"snapshot": await _snapshot()}

    async def push_event(self, event: dict) -> None:
        """Wallboard frames in `seq` order; a watched chat's frames as they come (their numbers
        are their own group's, so they travel as `watch_seq`)."""
        for frame in event.get("frames") or [event["frame"]]:
            frame = dict(frame)
            if frame.get("type") == "supervisor.updated":
                await self._push_one(frame)
            else:
                frame["watch_seq"] = frame.pop("seq", None)
                await self.send_frame(frame)

    async def cmd_watch(self, frame: dict) -> dict:
        session_id = session_id_of(frame)
        if session_id not in self.watching and len(self.watching) >= WATCHED_MAX:
            for old in list(self.watching)[: len(self.watching) - WATCHED_MAX + 1]:
                await self._unwatch(old)
        found = await _transcript(session_id, self.scope["user"])
        await self.channel_layer.group_add(live.watch_group(session_id), self.channel_name)
        self.watching.add(session_id)
        await live.watch(session_id)
        # The publishers learn of a new watcher within a second: what was written meanwhile
        # comes once more then, as a `transcript` the page merges by message id.
        asyncio.get_running_loop().create_task(self._transcript_again(session_id))
        return found

    async def _transcript_again(self, session_id: str) -> None:
        await asyncio.sleep(live.CACHE_SECONDS + 0.3)
        if session_id not in self.watching:
            return
        with contextlib.suppress(Exception):
            found = await _transcript(session_id, self.scope["user"])
            await self.send_frame({"type": "transcript", "session_id": session_id, **found})

    async def cmd_unwatch(self, frame: dict) -> dict:
        await self._unwatch(session_id_of(frame))
        return {}

    async def _unwatch(self, session_id: str) -> None:
        self.watching.discard(session_id)
        await self.channel_layer.group_discard(live.watch_group(session_id), self.channel_name)

    async def cmd_transfer_targets(self, frame: dict) -> dict:
        return await database_sync_to_async(transfer_targets)(None)

    async def cmd_heartbeat(self, frame: dict) -> dict:
        for session_id in self.watching:  # still open: keep following it
            await live.watch(session_id)
        return await super().cmd_heartbeat(frame)
