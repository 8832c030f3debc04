"""A real HTTP receiver on 127.0.0.1 for the webhook tests: it records every request and
answers as a test scripts it, per path (a list of statuses, one per request, the last one
repeated; and a delay before answering)."""

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    at: float  # time.time() when it arrived


@dataclass
class Script:
    statuses: list = field(default_factory=lambda: [200])
    delays: list = field(default_factory=lambda: [0.0])  # seconds before answering, per request


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.scripts: dict[str, Script] = {}
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 -- the http.server name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with owner.lock:
                    owner.requests.append(
                        Received(self.path, dict(self.headers.items()), body, time.time())
                    )
                    script = owner.scripts.get(self.path, Script())
                    seen = sum(1 for r in owner.requests if r.path == self.path)
                    status = script.statuses[min(seen, len(script.statuses)) - 1]
                    delay = script.delays[min(seen, len(script.delays)) - 1]
                if delay:
                    time.sleep(delay)
                reply = b'{"ok": true}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    pass  # the desk gave up waiting (a timeout test)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a sender that went away mid-request (killed, timed out) is expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
