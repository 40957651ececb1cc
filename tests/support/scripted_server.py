"""A real, scriptable HTTP server on 127.0.0.1: canned replies per path, every hit recorded.

verify's checks and its retry logic are tested against it (delays, resets, status sequences)
without a deployment; a test scripts the replies it needs with `on(path, Reply(...), ...)`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: object = field(default_factory=lambda: {"status": "ok"})
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the socket without answering (a reset while warming)


class ScriptedServer:
    """Answers each path from a queue of Replies; the last one repeats. Records every hit."""

    def __init__(self) -> None:
        self.script: dict[str, deque[Reply]] = defaultdict(deque)
        self.hits: list[tuple[str, str, float]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                path = self.path.split("?")[0]
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with server._lock:
                    server.hits.append((self.command, self.path, time.monotonic()))
                    queue = server.script.get(path) or deque([Reply(404, {"error": "nope"})])
                    reply = queue.popleft() if len(queue) > 1 else queue[0]
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                data = json.dumps(reply.body) if not isinstance(reply.body, bytes) else reply.body
                data = data.encode() if isinstance(data, str) else data
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_OPTIONS = do_DELETE = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def on(self, path: str, *replies: Reply) -> None:
        self.script[path] = deque(replies)

    def count(self, path: str) -> int:
        return sum(1 for _, p, _ in self.hits if p.split("?")[0] == path)
