"""A small shop site on an origin of its own that embeds the desk's chat widget.

    python scripts/widget_demo.py --desk http://127.0.0.1:8000 --port 8001

serves `/` (also `/index.html`) and `/other.html`, two pages of the shop, each with

    <script src="{desk}/static/desk-widget.js" data-desk="{desk}" ... async></script>

The desk frames its chat only for the sites it names: start it with
`WIDGET_ALLOWED_ORIGINS=http://127.0.0.1:8001` (this server's origin). Standard library only;
tests start it in a thread with `serve(port, desk=...)`.
"""

import argparse
import threading
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OPTIONS = ("skill_group", "customer_name", "email", "lang")

PAGES = {
    "/": (
        "Lantern &amp; Loom",
        "Hand-made lamps and woven throws, shipped from our workshop within two days.",
        [
            ("Paper lantern", "€24"),
            ("Linen throw", "€68"),
            ("Brass desk lamp", "€95"),
        ],
    ),
    "/other.html": (
        "Delivery and returns",
        "Orders leave the workshop within two working days. Returns are free for 30 days.",
        [("Standard delivery", "free over €50"), ("Express delivery", "€9")],
    ),
}

STYLE = """
body { margin: 0; font: 16px/1.5 Georgia, serif; color: #2b2118; background: #faf6f0; }
header { display: flex; gap: 24px; align-items: baseline; padding: 16px 32px;
  background: #2b2118; color: #faf6f0; }
header a { color: #f3d9a4; }
main { max-width: 720px; margin: 0 auto; padding: 24px 32px 160px; }
ul { padding: 0; list-style: none; }
li { display: flex; justify-content: space-between; padding: 12px 0;
  border-bottom: 1px solid #e7dccb; }
"""


def page(path: str, desk: str, options: dict[str, str]) -> bytes:
    """One page of the shop, embedding the widget of `desk` with the given data-* options."""
    title, text, rows = PAGES[path]
    desk = desk.rstrip("/")
    attrs = "".join(
        f' data-{name.replace("_", "-")}="{escape(options[name])}"'
        for name in OPTIONS
        if options.get(name)
    )
    items = "".join(f"<li><span>{name}</span><span>{price}</span></li>" for name, price in rows)
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Lantern &amp; Loom</title>
<link rel="icon" href="data:,">
<style>{STYLE}</style>
</head>
<body>
<header><strong>Lantern &amp; Loom</strong>
  <nav><a href="/">Shop</a> · <a href="/other.html">Delivery and returns</a></nav></header>
<main>
<h1>{title}</h1>
<p>{text}</p>
<ul>{items}</ul>
<p>Questions about an order? Chat with us, bottom right.</p>
</main>
<script src="{escape(desk)}/static/desk-widget.js" data-desk="{escape(desk)}"{attrs} async>
</script>
</body>
</html>
"""
    return html.encode()


class Handler(BaseHTTPRequestHandler):
    server: "DemoServer"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        path = "/" if path == "/index.html" else path
        if path not in PAGES:
            self.send_error(404)
            return
        body = page(path, self.server.desk, self.server.options)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)


class DemoServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, desk: str, options: dict[str, str], quiet: bool = False):
        super().__init__(address, Handler)
        # Read on every request: a test may change them between pages.
        self.desk, self.options, self.quiet = desk, options, quiet


def serve(
    port: int, desk: str = "http://127.0.0.1:8000", host: str = "127.0.0.1", **options: str
) -> DemoServer:
    """Start the site in a background thread; stop it with .shutdown() and .server_close()."""
    server = DemoServer((host, port), desk, dict(options), quiet=True)
    threading.Thread(target=server.serve_forever, name="widget-demo", daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--desk", default="http://127.0.0.1:8000", help="the desk's URL")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--skill-group", help="data-skill-group: the group chats go to")
    parser.add_argument("--customer-name", default="Sam Shopper", help="data-customer-name")
    parser.add_argument("--email", help="data-email")
    parser.add_argument("--lang", help="data-lang: en or zh (default: the page's, en)")
    args = parser.parse_args()
    options = {name: getattr(args, name) for name in OPTIONS if getattr(args, name)}
    server = DemoServer((args.host, args.port), args.desk, options)
    print(f"Shop at http://{args.host}:{args.port}/ embedding the widget of {args.desk}")
    print(f"(the desk needs WIDGET_ALLOWED_ORIGINS=http://{args.host}:{args.port})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
