"""The floor: what a chat costs this stack (daphne, Channels, channels-redis, the load client's
HTTP and WebSocket libraries) when the desk does nothing at all.

`bench/load.py` drives the desk with a mix of chats; a chat of that mix, on average, makes
1.9 HTTP requests (the create, one customer message in three, half the customers' ends), one
customer WebSocket handshake, about 4.8 commands with their acks and 14 pushed frames (the
offer, the assignment and each of the 4 later messages to both sides, the end to both). This
replays the same traffic, at the same rate, over 2 daphnes running `bench/floor_app.py`: the
same server, framework and channel layer, with no database, no Django request handling, no
numbering and no checks. Its CPU per chat (daphnes, Redis and this client) is a lower bound of
what the desk can cost per chat on this stack, whatever the desk's own code does.

    .venv/bin/python bench/floor.py [--rate 20] [--duration 60] [--agents 200]
"""

import argparse
import asyncio
import json
import os
import random
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect as ws_connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import HttpShards, python_speed_ms  # noqa: E402
from bench.topology import Proc, Topology, free_port, port_open, wait_for  # noqa: E402

THINK = (0.3, 1.2)  # as bench/load.py's Config
EXCHANGES = (1, 3)


class Floor:
    def __init__(self, urls: list[str], agents: int) -> None:
        self.urls, self.agents = urls, agents
        self.http: HttpShards | None = None
        self.done = 0
        self.failed = 0
        self.ready = asyncio.Event()
        self.connected = 0

    async def agent(self, k: int) -> None:
        base = self.urls[k % len(self.urls)].replace("http://", "ws://")
        async with ws_connect(f"{base}/ws/agent/{k}/", compression=None, max_queue=None) as ws:
            await ws.recv()  # hello
            self.connected += 1
            if self.connected == self.agents:
                self.ready.set()
            async for raw in ws:
                frame = json.loads(raw)
                kind, sid = frame["type"], frame.get("session_id")
                if kind == "session.offered":
                    asyncio.get_running_loop().create_task(
                        self.command(ws, "session.accept", sid, k, None, delay=(0.1, 1.5))
                    )
                elif kind == "message.created" and frame["body"] == "customer":
                    asyncio.get_running_loop().create_task(
                        self.command(ws, "message.send", sid, k, "agent", delay=THINK)
                    )

    async def command(self, ws, kind, sid, k, body, delay=None) -> None:
        if delay:
            await asyncio.sleep(random.uniform(*delay))
        frame = {"type": kind, "session_id": sid, "agent": k, "body": body, "ref": sid}
        await ws.send(json.dumps(frame))

    async def customer(self, n: int) -> None:
        k = n % self.agents
        base = random.choice(self.urls)
        response = await self.http.post(f"{base}/create", json={"agent": k, "body": "hello"})
        sid = response.json()["id"]
        ws_base = base.replace("http://", "ws://")
        async with ws_connect(f"{ws_base}/ws/customer/{sid}/", compression=None) as ws:

            async def until(kind: str, body: str | None = None) -> None:
                while True:
                    frame = json.loads(await ws.recv())
                    if frame["type"] == kind and (body is None or frame.get("body") == body):
                        return

            await until("hello")
            await asyncio.wait_for(until("session.assigned"), 30)
            for i in range(random.randint(*EXCHANGES)):
                if i % 2:
                    command = {"type": "message.send", "session_id": sid, "agent": k}
                    await self.http.post(f"{base}/message", json={**command, "body": "customer"})
                else:
                    await self.command(ws, "message.send", sid, k, "customer")
                await asyncio.wait_for(until("message.created", "agent"), 30)
                await asyncio.sleep(random.uniform(*THINK))
            if random.random() < 0.5:
                await self.command(ws, "session.end", sid, k, None)
            else:
                command = {"type": "session.end", "session_id": sid, "agent": k}
                await self.http.post(f"{base}/end", json=command)
            await until("session.ended")
        self.done += 1

    async def run(self, rate: float, duration: float, cpu) -> dict:
        agents = [asyncio.get_running_loop().create_task(self.agent(k)) for k in range(self.agents)]
        await asyncio.wait_for(self.ready.wait(), 60)
        async with HttpShards(8, 30) as self.http:
            before, started = cpu(), time.monotonic()
            customers, n, next_at = set(), 0, time.monotonic()
            while time.monotonic() - started < duration:
                n += 1
                customers.add(asyncio.get_running_loop().create_task(self.customer(n)))
                next_at += random.expovariate(rate)
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            results = await asyncio.gather(*customers, return_exceptions=True)
            after, elapsed = cpu(), time.monotonic() - started
        self.failed = sum(isinstance(r, BaseException) for r in results)
        for task in agents:
            task.cancel()
        used = {name: after[name] - before.get(name, 0.0) for name in after}
        return {"chats": self.done, "failed": self.failed, "seconds": elapsed, "cpu": used}


def run_floor(rate: float, duration: float, agents: int) -> dict:
    """Redis and 2 daphnes on `bench/floor_app.py`, `duration` seconds of chats at `rate`."""
    topo = Topology(daphnes=0, workers=0, beat=False)  # Redis and daphnes only: no database
    try:
        topo.redis_start()
        env = {**os.environ, "REDIS_URL": topo.redis_url, "PYTHONPATH": str(ROOT)}
        ports = [free_port(), free_port()]
        for index, port in enumerate(ports):
            argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
            proc = Proc(f"daphne{index}", [*argv, "bench.floor_app:application"], env, topo.logs)
            topo.procs[proc.name] = proc.start()
            wait_for(lambda p=port: port_open(p), 40, proc.name, proc)
        urls = [f"http://127.0.0.1:{port}" for port in ports]

        def cpu() -> dict[str, float]:
            own = os.times()
            return {**topo.cpu_seconds(), "client": own.user + own.system}

        return asyncio.run(Floor(urls, agents).run(rate, duration, cpu))
    finally:
        topo.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    random.seed(args.seed)
    print(f"machine speed      {python_speed_ms():.1f} ms for a 1e6-step Python loop")
    result = run_floor(args.rate, args.duration, args.agents)
    chats = max(1, result["chats"])
    seconds, failed = result["seconds"], result["failed"]
    print(f"chats              {result['chats']} in {seconds:.0f} s, failed {failed}")
    for name, used in sorted(result["cpu"].items()):
        print(f"  {name:16s} {1000 * used / chats:6.1f} ms CPU per chat")
    total = sum(result["cpu"].values())
    print(f"CPU per chat       {1000 * total / chats:.1f} ms (the stack alone, client included)")


if __name__ == "__main__":
    main()
