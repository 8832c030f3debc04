"""The bare channel-layer round trip, from a process that does nothing else.

bench/load.py starts this beside its load and reads what it wrote when the load ends: the
yardstick its push latencies are compared with. Measured from the load process alone, the
yardstick slowed down with the desk (the same starved event loop took both) and a ratio could
hide an overload; from here it is what the machine and Redis give an idle client.

Writes one line per probe to OUT: the round trip in seconds, or `error <kind>`.

    .venv/bin/python bench/rtt_probe.py REDIS_URL OUT [--interval 0.1]
"""

import argparse
import asyncio
import contextlib
import os
import signal
import time


def layer_class():
    """The kind of layer the desk runs on (CHANNEL_LAYER, as in settings.py)."""
    if os.environ.get("CHANNEL_LAYER", "pubsub") == "pubsub":
        from channels_redis.pubsub import RedisPubSubChannelLayer

        return RedisPubSubChannelLayer
    from channels_redis.core import RedisChannelLayer

    return RedisChannelLayer


async def probe(redis_url: str, out: str, interval: float, stop: asyncio.Event) -> None:
    layer = layer_class()(hosts=[{"address": redis_url, "socket_timeout": 10}], prefix="ccidle")
    channel = await layer.new_channel()
    with open(out, "a", buffering=1) as lines:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                await layer.send(channel, {"type": "rtt"})
                await asyncio.wait_for(layer.receive(channel), 5)
                lines.write(f"{time.perf_counter() - started:.6f}\n")
            except Exception as exc:  # noqa: BLE001 -- Redis may be down during a fault run
                lines.write(f"error {type(exc).__name__}\n")
                await asyncio.sleep(0.5)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    with contextlib.suppress(Exception):
        await layer.flush()


def read(out: str) -> tuple[list[float], int]:
    """The round trips a probe wrote (seconds), and how many probes failed."""
    values, errors = [], 0
    with contextlib.suppress(FileNotFoundError), open(out) as lines:
        for line in lines:
            if line.startswith("error"):
                errors += 1
            elif line.strip():
                values.append(float(line))
    return values, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("redis_url")
    parser.add_argument("out")
    parser.add_argument("--interval", type=float, default=0.1)
    args = parser.parse_args()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await probe(args.redis_url, args.out, args.interval, stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
