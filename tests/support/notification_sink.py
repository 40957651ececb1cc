"""A local HTTP sink for team notifications: a real server on 127.0.0.1 recording each POST.

Apprise's `json://127.0.0.1:PORT/path` posts {"version", "title", "message", "type"} there, as
it would to a team's webhook; tests read the messages back from `received`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Sink:
    """Every POST body (JSON-decoded) with its path and headers; `status` is the reply."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.received: list[dict[str, Any]] = []
        self.status = 200
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "hook", secret: str = "") -> str:
        """An Apprise URL to this sink; `secret` goes where a webhook's token would (the path)."""
        return f"json://127.0.0.1:{self.port}/{path}{'/' + secret if secret else ''}"

    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m["body"]) for m in self.received]


@contextmanager
def notification_sink() -> Iterator[Sink]:
    """Start a sink on a free port; stop it after."""
    holder: dict[str, Sink] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            sink = holder["sink"]
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with sink._lock:
                sink.received.append(
                    {"path": self.path, "headers": dict(self.headers), "body": json.loads(data)}
                )
            self.send_response(sink.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["sink"] = Sink(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["sink"]
    finally:
        server.shutdown()
        server.server_close()
