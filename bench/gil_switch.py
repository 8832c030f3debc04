"""What a busy sync thread costs a daphne's event loop, by the interpreter's switch interval.

A daphne runs its event loop (sockets, pushes) on one thread and Django's sync code (views, ORM)
on another; both need the GIL. Each time the loop waits for a socket, it drops the GIL, and
when the socket is ready it must wait for the sync thread to give it back: up to the switch
interval (`sys.getswitchinterval()`, 5 ms by default) per wait, while that thread computes.

This measures it alone: a round trip over a socket to an echo process, from an asyncio loop,
while another thread of the same process burns CPU in pure Python (as a Django request does),
for each switch interval. It prints p50/p99 per interval, and the same with no busy thread.

    .venv/bin/python bench/gil_switch.py [--trips 2000] [--intervals 5,2,1,0.5]
"""

import argparse
import asyncio
import socket
import sys
import threading
import time
from multiprocessing import Process
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import pct  # noqa: E402 -- the percentile every bench prints


def echo(sock: socket.socket) -> None:
    while data := sock.recv(64):
        sock.sendall(data)


def burn(stop: threading.Event) -> None:
    while not stop.is_set():
        total = 0
        for i in range(10_000):
            total += i * i


async def trips(sock: socket.socket, count: int) -> list[float]:
    loop = asyncio.get_running_loop()
    taken = []
    for _ in range(count):
        start = time.perf_counter()
        await loop.sock_sendall(sock, b"x")
        await loop.sock_recv(sock, 64)
        taken.append(time.perf_counter() - start)
        await asyncio.sleep(0.001)  # the loop waits in epoll between events, as a daphne does
    return taken


def measure(sock: socket.socket, count: int, interval_ms: float, busy: bool) -> list[float]:
    sys.setswitchinterval(interval_ms / 1000)
    stop = threading.Event()
    burner = threading.Thread(target=burn, args=(stop,), daemon=True)
    if busy:
        burner.start()
    try:
        return asyncio.run(trips(sock, count))
    finally:
        stop.set()
        if busy:
            burner.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=2000)
    parser.add_argument("--intervals", default="5,2,1,0.5", help="switch intervals, ms")
    args = parser.parse_args()

    ours, theirs = socket.socketpair()
    server = Process(target=echo, args=(theirs,), daemon=True)
    server.start()
    ours.setblocking(False)
    print(f"{'switch interval':>16s} {'busy thread':>12s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for interval in [float(x) for x in args.intervals.split(",")]:
        for busy in (False, True):
            taken = measure(ours, args.trips, interval, busy)
            print(
                f"{interval:13.1f} ms {'yes' if busy else 'no':>12s} "
                f"{pct(taken, 50) * 1000:8.2f} {pct(taken, 99) * 1000:8.2f}"
            )
    ours.close()
    server.join(timeout=2)


if __name__ == "__main__":
    main()
