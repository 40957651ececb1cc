"""The environment's stable front door: a loopback TCP proxy to whichever app version is live.

In AWS the EB environment's CNAME points at a load balancer that keeps its address while
deployments swap the instances behind it. This is the sandbox's version of that: it listens on
one port per stack for the stack's lifetime and forwards each new connection to the port named
in a small target file. A deployment starts the new version on a fresh port, health-checks it
directly, then rewrites the target file (atomic rename) — new connections go to the new
version, in-flight ones finish on the old — and only then stops the old version. So `api_url`
never changes between deployments, and a failed deployment never touches it.

    python -m sandbox.proxy --port 8080 --target-file .sandbox/dev/proxy-target
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
from pathlib import Path

LOOPBACK = "127.0.0.1"
BAD_GATEWAY = (
    b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nConnection: close\r\n"
    b"Content-Length: 83\r\n\r\n"
    b'{"error": {"code": "bad_gateway", "message": "no healthy app version is running"}}\n'
)


class Target:
    """The live app port, re-read from the target file whenever it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._port: int | None = None

    def port(self) -> int | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        stamp = (st.st_mtime_ns, st.st_ino)
        if stamp != self._stamp:
            try:
                self._port = int(self.path.read_text().strip())
            except (ValueError, FileNotFoundError):
                self._port = None
            self._stamp = stamp
        return self._port


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()


# --- Like EB's ALB + nginx in front of gunicorn (issue 12) -------------------------------------
# Each request's head is read here: over-long request lines / headers get our JSON error (as the
# bundle's nginx config answers on EB, with limits below gunicorn's, whose own answers are HTML),
# and X-Forwarded-For gets the two entries EB's two hops append (the ALB adds the client, nginx
# adds the ALB), so the app's ProxyFix(x_for=2) sees the same header here as on AWS. One request
# per connection (Connection: close) keeps the head parsing exact.
MAX_REQUEST_LINE = 4096
MAX_HEADER_LINE = 4096
MAX_HEAD = 16 * 1024


def _json_error(status: int, reason: str, code: str, message: str) -> bytes:
    body = (json.dumps({"error": {"code": code, "message": message}}) + "\n").encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


URI_TOO_LONG = _json_error(414, "URI Too Long", "uri_too_long", "the request line is too long")
HEADERS_TOO_LARGE = _json_error(
    431, "Request Header Fields Too Large", "headers_too_large", "a request header is too large"
)
BAD_REQUEST = _json_error(400, "Bad Request", "bad_request", "malformed HTTP request")


async def _read_head(client_r: asyncio.StreamReader, peer: str) -> bytes:
    """The request head rewritten for the app, or one of the JSON errors above (raised)."""
    try:
        head = await client_r.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise _Refused(HEADERS_TOO_LARGE) from None
    except asyncio.IncompleteReadError as exc:
        raise _Refused(BAD_REQUEST if exc.partial.strip() else b"") from None
    lines = head[:-4].split(b"\r\n")
    if len(lines[0]) > MAX_REQUEST_LINE:
        raise _Refused(URI_TOO_LONG)
    forwarded: list[bytes] = []
    kept = [lines[0]]
    for line in lines[1:]:
        if len(line) > MAX_HEADER_LINE:
            raise _Refused(HEADERS_TOO_LARGE)
        name, sep, value = line.partition(b":")
        if not sep:
            raise _Refused(BAD_REQUEST)
        lowered = name.strip().lower()
        if lowered == b"x-forwarded-for":
            forwarded.append(value.strip())
        elif lowered not in (b"connection", b"keep-alive", b"x-forwarded-proto"):
            kept.append(line)
    chain = b", ".join([*forwarded, peer.encode(), LOOPBACK.encode()])
    kept += [b"X-Forwarded-For: " + chain, b"X-Forwarded-Proto: http", b"Connection: close"]
    return b"\r\n".join(kept) + b"\r\n\r\n"


class _Refused(Exception):
    def __init__(self, response: bytes) -> None:
        self.response = response


async def _handle(
    target: Target, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
) -> None:
    peer = (client_w.get_extra_info("peername") or ("0.0.0.0", 0))[0]  # noqa: S104
    try:
        head = await _read_head(client_r, peer)
    except _Refused as refused:
        with contextlib.suppress(Exception):
            client_w.write(refused.response)
            await client_w.drain()
        client_w.close()
        return
    port = target.port()
    try:
        if port is None:
            raise ConnectionRefusedError
        up_r, up_w = await asyncio.open_connection(LOOPBACK, port)
    except OSError:
        client_w.write(BAD_GATEWAY)
        with contextlib.suppress(Exception):
            await client_w.drain()
        client_w.close()
        return
    try:
        up_w.write(head)
        await asyncio.gather(_pipe(client_r, up_w), _pipe(up_r, client_w))
    finally:
        for w in (up_w, client_w):
            with contextlib.suppress(Exception):
                w.close()


async def serve(port: int, target_file: Path) -> None:
    target = Target(target_file)
    server = await asyncio.start_server(
        lambda r, w: _handle(target, r, w), LOOPBACK, port, reuse_address=True, limit=MAX_HEAD
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.proxy", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target-file", type=Path, required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.target_file))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
