#!/usr/bin/env python3
"""Test HTTP server for `clonebot web` (stdlib only).

Run:    python3 tests/web/server.py [--port N]
        prints exactly one line "PORT <n>" on stdout, then serves until
        SIGTERM/SIGINT.
Import: from server import start_server
        server, port = start_server()      # daemon thread, port 0 = any
        ...; server.shutdown(); server.server_close()

Routes (pages live in tests/web/pages/):
  /form /counter /delayed /nav1 /nav2 /utf8 /long /hidden /console-error
  /status/404 /status/500       small HTML page with that status
  /slow?ms=N                    waits N ms (capped at 60 s), then a small page
"""

import argparse
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PAGES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pages")

STATIC_ROUTES = {
    "/form": "form.html",
    "/counter": "counter.html",
    "/delayed": "delayed.html",
    "/nav1": "nav1.html",
    "/nav2": "nav2.html",
    "/utf8": "utf8.html",
    "/long": "long.html",
    "/hidden": "hidden.html",
    "/console-error": "console-error.html",
}

_STYLE = ('<style>html,body{margin:0;padding:8px;'
          'font:16px/20px "DejaVu Sans",Arial,sans-serif}</style>')


def _small_page(title, body):
    return ('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<title>{title}</title>\n{_STYLE}\n</head><body>\n{body}\n'
            '</body></html>\n').encode("utf-8")


def _load_pages():
    pages = {}
    for route, name in STATIC_ROUTES.items():
        with open(os.path.join(PAGES_DIR, name), "rb") as f:
            pages[route] = f.read()
    return pages


class Handler(BaseHTTPRequestHandler):
    server_version = "clonebot-test/1"
    protocol_version = "HTTP/1.1"
    pages = {}  # filled by make_server

    def log_message(self, fmt, *args):  # quiet: no per-request lines
        pass

    def _send(self, status, body, ctype="text/html; charset=utf-8", head=False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _route(self, head):
        url = urlsplit(self.path)
        path = url.path
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
        if path in self.pages:
            return self._send(200, self.pages[path], head=head)
        if path in ("/", "/index"):
            links = "\n".join(f'<li><a href="{r}">{r}</a></li>'
                              for r in list(STATIC_ROUTES) +
                              ["/status/404", "/status/500", "/slow?ms=500"])
            return self._send(200, _small_page("Index", f"<ul>\n{links}\n</ul>"), head=head)
        if path.startswith("/status/"):
            code = path[len("/status/"):]
            if code.isdigit() and 200 <= int(code) <= 599 and int(code) not in (204, 304):
                code = int(code)
                return self._send(code, _small_page(
                    f"Status {code}", f'<h1 id="status">{code}</h1>'), head=head)
        if path == "/slow":
            qs = parse_qs(url.query)
            try:
                ms = int(qs.get("ms", ["0"])[0])
            except ValueError:
                ms = 0
            ms = max(0, min(ms, 60000))
            time.sleep(ms / 1000.0)
            return self._send(200, _small_page(
                "Slow", f'<h1 id="slow">Slow</h1><p id="ms">{ms}</p>'), head=head)
        if path == "/favicon.ico":
            return self._send(404, b"", ctype="image/x-icon", head=head)
        return self._send(404, _small_page("Not found", '<h1 id="status">404</h1>'), head=head)

    def do_GET(self):
        try:
            self._route(head=False)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_HEAD(self):
        try:
            self._route(head=True)
        except (BrokenPipeError, ConnectionResetError):
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # benchmarks open many connections at once

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def make_server(port=0, host="127.0.0.1"):
    Handler.pages = _load_pages()
    return Server((host, port), Handler)


def start_server(port=0):
    """Start the server in a daemon thread; returns (server, port)."""
    server = make_server(port)
    t = threading.Thread(target=server.serve_forever, name="web-test-server", daemon=True)
    t.start()
    return server, server.server_address[1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    server = make_server(args.port)

    def stop(signum, frame):
        # serve_forever runs in this thread: shut down from another one
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stdout.write(f"PORT {server.server_address[1]}\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
