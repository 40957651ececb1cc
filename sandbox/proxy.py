"""The proxy: the sandbox's load balancer, a loopback HTTP proxy in front of the app instances.

In AWS the EB environment's CNAME points at an Application Load Balancer that keeps its address
while deployments add and remove instances behind it. The proxy is the sandbox's version (the
sandbox calls it "the proxy" everywhere: its state key, its log, its port): it listens
on one port per stack for the stack's lifetime and routes each *request* (not each TCP
connection, so a keep-alive client is never pinned to an instance that is going away) round
robin over the registered instances that pass its health checks — like an ALB target group:

* **Registration** is a JSON target file the deployer (`ProxyClient`) rewrites atomically
  (`{"generation", "backends": [{"name", "port"}], "health": {...}}`; a bare port is read as one
  backend). A new instance starts `initial`, gets traffic only after `healthy_threshold`
  consecutive `/health` 200s, and is marked `unhealthy` after `unhealthy_threshold` failures
  (or at once when a connection to it is refused). When no registered instance is healthy the
  proxy fails open and routes to all of them, as an ALB does.
* **Draining**: an instance removed from the file gets no new request; the ones in flight
  finish. The proxy writes a status file (generation applied, per-instance state and in-flight
  count) so the deployer waits for the drain before it stops the instance. Both files are the
  proxy's whole interface, so both sides of it live here.
* **Requests are buffered** (head and body, with timeouts) before an instance is chosen, as
  nginx does on the instances in AWS: a client trickling bytes holds a proxy coroutine, never
  a gunicorn thread. Each request gets `X-Forwarded-For` with the two entries EB's two hops
  append (the ALB appends the client, nginx on the instance appends the ALB), so the app's
  `ProxyFix(x_for=2)` sees the same header here as on AWS, plus `X-Forwarded-Proto` and
  `X-Forwarded-Port`.
* **Limits in front of gunicorn**, as the bundle's nginx config sets them on EB: an over-long
  request line gets 414 and an over-long header 431, in our JSON error shape (gunicorn's own
  answers to those are HTML, and its limits are higher).
* No instance registered → 503; an instance that fails mid-request → 502 (ALB's codes).
* **HTTPS listener** (a stack with a certificate): a second port terminates TLS with the
  certificate files it is given (sandbox/tls.py makes them) and relays the same way, with
  `X-Forwarded-Proto: https`; the plain port stays, so the app's redirect answers HTTP, as
  behind an ALB with listeners on 80 and 443.
* **Weighted routing** (EB's TrafficSplitting: an ALB listener rule forwarding to two weighted
  target groups): each registered backend may carry a `weight`; requests are spread by smooth
  weighted round robin over the healthy ones, so NewVersionPercent of them reach the new set.
* **Per-instance measurements**, what EB's enhanced health reads from each instance's web server
  log: for every answered request its time, status code and latency, per instance and version.
  The proxy keeps the last `MEASURE_KEEP_S` seconds and cumulative counts, and writes them to
  a metrics file beside the target file four times a second (`metrics_path`); the sandbox's moto
  answers DescribeInstancesHealth from it and its CloudWatch publishes the EB metrics from it.

    python -m sandbox.proxy --port 8080 --target-file .sandbox/dev/proxy-target \
        [--tls-port 8443 --tls-cert server.pem --tls-key server-key.pem]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import ssl
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.jsonfile import read_json, write_json_atomic
from common.polling import WaitTimeout, wait_until
from sandbox.errors import SandboxError

LOOPBACK = "127.0.0.1"
MAX_HEAD = 16 * 1024
MAX_REQUEST_LINE = 4096
MAX_HEADER_LINE = 4096
MAX_BODY = 64 * 1024 * 1024
#: ALB's idle timeout (keep-alive connections with no request are closed after it).
IDLE_TIMEOUT_S = 60.0
#: How long a client may take to send one request's head and body (nginx client_*_timeout).
CLIENT_TIMEOUT_S = 60.0
#: How long an instance may take to answer (gunicorn's own timeout is lower).
UPSTREAM_TIMEOUT_S = 120.0
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
}
#: Seconds of per-request measurements the proxy keeps and writes (the health API reads windows of
#: at most 10 s, the CloudWatch agent reads them twice a second).
MEASURE_KEEP_S = 20.0
#: How often the metrics file is rewritten (its `time` ends the health API's window).
MEASURE_WRITE_S = 0.25
DEFAULT_HEALTH = {
    "path": "/health",
    "interval_s": 1.0,
    "timeout_s": 2.0,
    "healthy_threshold": 2,
    "unhealthy_threshold": 2,
}


def status_path(target_file: Path) -> Path:
    """Where the proxy reports what it applied (beside the target file)."""
    return target_file.with_name(target_file.name + ".status.json")


def metrics_path(target_file: Path) -> Path:
    """Where the proxy writes its per-instance request measurements (beside the target file)."""
    return target_file.with_name(target_file.name + ".metrics.json")


def read_metrics(target_file: Path) -> dict[str, Any]:
    """The proxy's measurements: {"time", "backends": {port: {"name", "version", "state",
    "registered_at", "totals": {...}, "requests": [[unix_time, status, latency_s], ...]}}};
    {} before the proxy wrote any."""
    raw = _read_json_or_none(metrics_path(target_file))
    return raw if isinstance(raw, dict) else {}


def _read_json_or_none(path: Path) -> Any:
    """The JSON in `path`; None when absent or unreadable (read as: no targets, no status yet)."""
    try:
        return read_json(path, default=None)
    except ValueError:  # CorruptJSONError, or not even text
        return None


def read_target(path: Path) -> dict[str, Any] | None:
    """The target file as {"generation", "backends", "health"}; None when absent/unreadable."""
    raw = _read_json_or_none(path)
    if isinstance(raw, int):  # the single-instance format of earlier sandboxes
        return {"generation": 0, "backends": [{"name": "app", "port": raw}], "health": {}}
    if not isinstance(raw, dict):
        return None
    return raw


class ProxyClient:
    """The deployer's side of the proxy: register/deregister instances, wait for health/drain.

    Registration is the target file (its atomic rename is the moment the proxy's targets
    change); what the proxy applied, and each instance's health and in-flight count, is read
    back from its status file.
    """

    def __init__(self, target_file: Path) -> None:
        self.target_file = target_file
        self.status_file = status_path(target_file)

    def registered(self) -> list[dict[str, Any]]:
        return list((read_target(self.target_file) or {}).get("backends", []))

    def register(
        self,
        instances: list[dict[str, Any]],
        health: Mapping[str, Any],
        weights: Mapping[str, int] | None = None,
    ) -> int:
        """Make exactly `instances` the registered targets; returns the new generation.

        `weights` (instance name -> relative weight) splits traffic unevenly, as EB's
        TrafficSplitting does; without it every instance has weight 1.
        """
        generation = int((read_target(self.target_file) or {}).get("generation", 0)) + 1
        write_json_atomic(
            self.target_file,
            {
                "generation": generation,
                "backends": [
                    {
                        "name": i["name"],
                        "port": i["port"],
                        "version": i.get("version"),
                        "weight": int((weights or {}).get(i["name"], 1)),
                    }
                    for i in instances
                ],
                "health": dict(health),
            },
        )
        return generation

    def status(self) -> dict[str, Any]:
        raw = _read_json_or_none(self.status_file)
        return raw if isinstance(raw, dict) else {}

    def wait_healthy(self, instances: list[dict[str, Any]], timeout: float) -> None:
        """Until the proxy's own health checks put every instance in service."""
        ports = {str(i["port"]) for i in instances}

        def all_healthy() -> bool:
            backends = self.status().get("backends", {})
            return all(backends.get(p, {}).get("state") == "healthy" for p in ports)

        try:
            wait_until(all_healthy, timeout=timeout, what="proxy health checks", interval=0.1)
        except WaitTimeout:
            raise SandboxError(
                f"instances {sorted(i['name'] for i in instances)} did not pass the proxy's "
                f"health checks within {timeout:.0f}s; the previous version keeps serving"
            ) from None

    def wait_drained(
        self, instances: list[dict[str, Any]], generation: int, timeout: float
    ) -> float:
        """Until the proxy applied `generation` and nothing is in flight to `instances`.

        Returns the seconds waited; a drain that outlasts `timeout` is cut short, not an error
        (the instances are stopped anyway, as an ALB's deregistration delay ends).
        """
        started = time.monotonic()
        ports = {str(i["port"]) for i in instances}

        def drained() -> bool:
            status = self.status()
            if int(status.get("generation", -1)) < generation:
                return False
            backends = status.get("backends", {})
            return all(backends.get(p, {}).get("in_flight", 0) == 0 for p in ports)

        with contextlib.suppress(WaitTimeout):
            wait_until(drained, timeout=timeout, what="proxy drain", interval=0.05)
        return round(time.monotonic() - started, 2)


def response(status: int, reason: str, code: str, message: str) -> bytes:
    body = json.dumps({"error": {"code": code, "message": message}}).encode() + b"\n"
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


NO_TARGETS = response(
    503, "Service Unavailable", "no_registered_instances", "no app instance is registered"
)
BAD_GATEWAY = response(502, "Bad Gateway", "bad_gateway", "the app instance failed to answer")
BAD_REQUEST = response(400, "Bad Request", "bad_request", "malformed HTTP request")
TOO_LARGE = response(413, "Payload Too Large", "payload_too_large", "request body too large")
URI_TOO_LONG = response(414, "URI Too Long", "uri_too_long", "the request line is too long")
HEADERS_TOO_LARGE = response(
    431, "Request Header Fields Too Large", "headers_too_large", "a request header is too large"
)
TIMEOUT = response(408, "Request Timeout", "request_timeout", "the request was not sent in time")


@dataclass
class Backend:
    name: str
    port: int
    version: str | None = None
    weight: int = 1
    state: str = "initial"  # initial | healthy | unhealthy
    ok_streak: int = 0
    fail_streak: int = 0
    in_flight: int = 0
    served: int = 0
    registered: bool = True
    registered_at: float = field(default_factory=time.time)
    reported_drained: bool = False
    checker: asyncio.Task | None = field(default=None, repr=False)
    #: Smooth weighted round robin's running weight (nginx's algorithm).
    current: int = 0
    #: (unix time, status, latency s) of the requests answered in the last MEASURE_KEEP_S.
    requests: deque[tuple[float, int, float]] = field(default_factory=deque, repr=False)
    totals: dict[str, int] = field(
        default_factory=lambda: {"count": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0}
    )

    def measure(self, status: int, latency_s: float) -> None:
        """One answered request, as the instance's web server log would show it."""
        now = time.time()
        self.requests.append((now, status, latency_s))
        self.totals["count"] += 1
        cls = f"{status // 100}xx"
        if cls in self.totals:
            self.totals[cls] += 1
        while self.requests and self.requests[0][0] < now - MEASURE_KEEP_S:
            self.requests.popleft()


class TargetGroup:
    """Registered instances, their health, and the round-robin choice."""

    def __init__(self, target_file: Path) -> None:
        self.target_file = target_file
        self.status_file = status_path(target_file)
        self.metrics_file = metrics_path(target_file)
        self.backends: dict[int, Backend] = {}
        self.health: dict[str, Any] = dict(DEFAULT_HEALTH)
        self.generation = -1
        self._stamp: tuple[int, int] | None = None
        self._dirty = True

    # -- registration --------------------------------------------------------------------

    def reload(self) -> None:
        try:
            st = os.stat(self.target_file)
            stamp = (st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return
        self._stamp = stamp
        target = read_target(self.target_file) if stamp else None
        wanted = {int(b["port"]): b for b in (target or {}).get("backends", [])}
        self.health = {**DEFAULT_HEALTH, **((target or {}).get("health") or {})}
        for port, entry in wanted.items():
            backend = self.backends.get(port)
            if backend is None or not backend.registered:
                backend = Backend(str(entry.get("name", port)), port, entry.get("version"))
                self.backends[port] = backend
                backend.checker = asyncio.ensure_future(self._check_loop(backend))
            backend.weight = max(0, int(entry.get("weight", 1)))
        for port, backend in list(self.backends.items()):
            if port not in wanted and backend.registered:
                backend.registered = False  # draining: no new requests
                if backend.checker:
                    backend.checker.cancel()
        self.generation = int((target or {}).get("generation", -1))
        self._dirty = True

    def choose(self, exclude: set[int]) -> Backend | None:
        registered = [b for b in self.backends.values() if b.registered and b.port not in exclude]
        healthy = [b for b in registered if b.state == "healthy"]
        # Fail open like an ALB: with no healthy target, every registered one gets traffic.
        pool = [b for b in (healthy or registered) if b.weight > 0] or healthy or registered
        if not pool:
            return None
        # Smooth weighted round robin: every backend gains its weight, the highest is chosen
        # and pays back the total, so a 9:1 split interleaves instead of sending bursts.
        total = 0
        best: Backend | None = None
        for backend in sorted(pool, key=lambda b: b.port):
            weight = max(backend.weight, 1) if len(pool) == 1 else backend.weight
            backend.current += weight
            total += weight
            if best is None or backend.current > best.current:
                best = backend
        assert best is not None  # noqa: S101 - pool is not empty
        best.current -= total
        return best

    # -- health checks -------------------------------------------------------------------

    async def _probe(self, backend: Backend) -> bool:
        path = self.health["path"]
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(LOOPBACK, backend.port), self.health["timeout_s"]
            )
        except (TimeoutError, OSError):
            return False
        try:
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {LOOPBACK}\r\nUser-Agent: ELB-HealthChecker/2.0"
                f"\r\nConnection: close\r\n\r\n".encode()
            )
            line = await asyncio.wait_for(reader.readline(), self.health["timeout_s"])
            return line.split(b" ")[1:2] == [b"200"]
        except (TimeoutError, OSError, IndexError):
            return False
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def mark(self, backend: Backend, ok: bool) -> None:
        before = backend.state
        if ok:
            backend.ok_streak, backend.fail_streak = backend.ok_streak + 1, 0
            if backend.ok_streak >= int(self.health["healthy_threshold"]):
                backend.state = "healthy"
        else:
            backend.fail_streak, backend.ok_streak = backend.fail_streak + 1, 0
            if backend.fail_streak >= int(self.health["unhealthy_threshold"]):
                backend.state = "unhealthy"
        self._dirty |= before != backend.state

    async def _check_loop(self, backend: Backend) -> None:
        while backend.registered:
            self.mark(backend, await self._probe(backend))
            await asyncio.sleep(float(self.health["interval_s"]))

    # -- status for the deployer -----------------------------------------------------------

    def write_status(self) -> None:
        # Forget drained instances once nothing is in flight (after reporting them once: the
        # deployer's drain wait reads "draining, 0 in flight" before they go).
        for port, backend in list(self.backends.items()):
            if not backend.registered and backend.in_flight == 0:
                if backend.reported_drained:
                    del self.backends[port]
                else:
                    backend.reported_drained = True
        status = {
            "generation": self.generation,
            "pid": os.getpid(),
            "time": time.time(),
            "backends": {
                str(b.port): {
                    "name": b.name,
                    "state": b.state if b.registered else "draining",
                    "in_flight": b.in_flight,
                    "served": b.served,
                }
                for b in self.backends.values()
            },
        }
        # Whole for its reader at every instant; rewritten every 0.1 s, so no fsync.
        write_json_atomic(self.status_file, status, indent=None, durable=False)
        self._dirty = False

    def write_metrics(self) -> None:
        """Per-instance measurements for the health API and the metrics publisher."""
        now = time.time()
        metrics = {
            "time": now,
            "generation": self.generation,
            "backends": {
                str(b.port): {
                    "name": b.name,
                    "version": b.version,
                    "state": b.state if b.registered else "draining",
                    "registered_at": b.registered_at,
                    "weight": b.weight,
                    "totals": dict(b.totals),
                    "requests": [
                        [round(t, 3), s, round(lat, 4)]
                        for t, s, lat in b.requests
                        if t >= now - MEASURE_KEEP_S
                    ],
                }
                for b in self.backends.values()
            },
        }
        write_json_atomic(self.metrics_file, metrics, indent=None, durable=False)

    async def housekeeping(self) -> None:
        last_metrics = 0.0
        while True:
            self.reload()
            if time.monotonic() - last_metrics >= MEASURE_WRITE_S:
                self.write_metrics()  # before write_status forgets drained backends
                last_metrics = time.monotonic()
            self.write_status()
            await asyncio.sleep(0.1)


# -- HTTP/1.1 request relaying -------------------------------------------------------------


class BadRequest(Exception):
    def __init__(self, reply: bytes) -> None:
        super().__init__(reply[:40])
        self.reply = reply


def parse_head(head: bytes) -> tuple[str, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    request_line = lines[0]  # or a status line, whose reason phrase may hold spaces
    if len(request_line) > MAX_REQUEST_LINE:
        raise BadRequest(URI_TOO_LONG)
    if len(request_line.split(" ", 2)) < 2:
        raise BadRequest(BAD_REQUEST)
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        if len(line) > MAX_HEADER_LINE:
            raise BadRequest(HEADERS_TOO_LARGE)
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(BAD_REQUEST)
        headers.append((name, value.strip()))
    return request_line, headers


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in headers if k.lower() == name]
    return ", ".join(values) if values else None


async def read_body(reader: asyncio.StreamReader, headers: list[tuple[str, str]]) -> bytes:
    if "chunked" in (header(headers, "transfer-encoding") or "").lower():
        parts, total = [], 0
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers are dropped
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                raise BadRequest(TOO_LARGE)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = header(headers, "content-length")
    if not length:
        return b""
    if not length.isdigit():
        raise BadRequest(BAD_REQUEST)
    if int(length) > MAX_BODY:
        raise BadRequest(TOO_LARGE)
    return await reader.readexactly(int(length))


async def read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """One whole request (None on a clean close between requests)."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT_S)
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise BadRequest(BAD_REQUEST) from exc
        return None
    except asyncio.LimitOverrunError as exc:
        raise BadRequest(HEADERS_TOO_LARGE) from exc
    request_line, headers = parse_head(head[:-4])
    if (header(headers, "expect") or "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # we buffer the body, like nginx
        await writer.drain()
    try:
        body = await asyncio.wait_for(read_body(reader, headers), CLIENT_TIMEOUT_S)
    except TimeoutError as exc:
        raise BadRequest(TIMEOUT) from exc
    except (asyncio.IncompleteReadError, ValueError, asyncio.LimitOverrunError) as exc:
        raise BadRequest(BAD_REQUEST) from exc
    return request_line, headers, body


def upstream_request(
    request_line: str,
    headers: list[tuple[str, str]],
    body: bytes,
    client_ip: str,
    port: int,
    proto: str = "http",
) -> bytes:
    kept = [
        (k, v)
        for k, v in headers
        if k.lower() not in HOP_BY_HOP
        and k.lower() not in ("content-length", "x-forwarded-proto", "x-forwarded-port")
    ]
    forwarded = header(headers, "x-forwarded-for")
    kept = [(k, v) for k, v in kept if k.lower() != "x-forwarded-for"]
    kept += [
        # The ALB appends the client; nginx on the instance appends the ALB (here: loopback).
        ("X-Forwarded-For", ", ".join([*([forwarded] if forwarded else []), client_ip, LOOPBACK])),
        ("X-Forwarded-Proto", proto),
        ("X-Forwarded-Port", str(port)),
        ("Connection", "close"),
    ]
    if body or request_line.split(" ")[0] in ("POST", "PUT", "PATCH"):
        kept.append(("Content-Length", str(len(body))))
    head = request_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in kept) + "\r\n"
    return head.encode("latin-1") + body


async def relay_response(
    up_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, keep_alive: bool
) -> tuple[bool, int]:
    """Copy the instance's answer to the client; (may the client connection stay, status)."""
    head = await asyncio.wait_for(up_r.readuntil(b"\r\n\r\n"), UPSTREAM_TIMEOUT_S)
    status_line, headers = parse_head(head[:-4])
    framed = (
        header(headers, "content-length") is not None
        or "chunked" in (header(headers, "transfer-encoding") or "").lower()
    )
    status = status_line.split(" ")[1]
    no_body = status in ("204", "304") or status.startswith("1")
    keep = keep_alive and (framed or no_body)
    kept = [(k, v) for k, v in headers if k.lower() not in ("connection", "keep-alive")]
    kept.append(("Connection", "keep-alive" if keep else "close"))
    client_w.write(
        (status_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in kept) + "\r\n").encode(
            "latin-1"
        )
    )
    # The instance closes after the response (we sent Connection: close): copy to EOF.
    while data := await asyncio.wait_for(up_r.read(65536), UPSTREAM_TIMEOUT_S):
        client_w.write(data)
        await client_w.drain()
    await client_w.drain()
    return keep, int(status) if status.isdigit() else 0


async def forward(
    targets: TargetGroup,
    request: tuple[str, list[tuple[str, str]], bytes],
    client_ip: str,
    proxy_port: int,
    client_w: asyncio.StreamWriter,
) -> bool:
    request_line, headers, body = request
    version = request_line.rsplit(" ", 1)[-1]
    connection = (header(headers, "connection") or "").lower()
    keep_alive = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
    targets.reload()
    tried: set[int] = set()
    while True:
        backend = targets.choose(tried)
        if backend is None:
            client_w.write(BAD_GATEWAY if tried else NO_TARGETS)
            await client_w.drain()
            return False
        tried.add(backend.port)
        # Counted from the choice on, so a drain never misses a request still connecting.
        backend.in_flight += 1
        targets._dirty = True
        try:
            up_r, up_w = await asyncio.wait_for(
                asyncio.open_connection(LOOPBACK, backend.port), 5.0
            )
        except (TimeoutError, OSError):
            # Nothing was sent: another instance may take it (the refusal counts as a failure).
            backend.in_flight -= 1
            targets.mark(backend, False)
            continue
        break
    sent_head = False
    # The listener the client used: TLS-terminating (https) or plain.
    proto = "https" if client_w.get_extra_info("ssl_object") is not None else "http"
    began = time.monotonic()
    try:
        up_w.write(upstream_request(request_line, headers, body, client_ip, proxy_port, proto))
        await up_w.drain()
        sent_head = True
        keep, status = await relay_response(up_r, client_w, keep_alive)
        backend.served += 1
        backend.measure(status, time.monotonic() - began)
        return keep
    except (TimeoutError, OSError, asyncio.IncompleteReadError, BadRequest):
        if sent_head:
            backend.measure(502, time.monotonic() - began)  # the instance failed mid-request
            with contextlib.suppress(Exception):
                client_w.write(BAD_GATEWAY)
                await client_w.drain()
        return False
    finally:
        backend.in_flight -= 1
        targets._dirty = True
        with contextlib.suppress(Exception):
            up_w.close()


async def handle(
    targets: TargetGroup,
    proxy_port: int,
    client_r: asyncio.StreamReader,
    client_w: asyncio.StreamWriter,
) -> None:
    peer = client_w.get_extra_info("peername") or (LOOPBACK, 0)
    try:
        while True:
            try:
                request = await read_request(client_r, client_w)
            except BadRequest as exc:
                client_w.write(exc.reply)
                await client_w.drain()
                return
            except (TimeoutError, OSError):
                return
            if request is None:
                return
            if not await forward(targets, request, peer[0], proxy_port, client_w):
                return
    except (OSError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            client_w.close()


#: How long a client may take to finish the TLS handshake.
TLS_HANDSHAKE_TIMEOUT_S = 10.0


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The HTTPS listener's settings: TLS 1.2 and up (what the ALB's SSL_POLICY allows)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    return context


async def serve(
    port: int, target_file: Path, tls: tuple[int, ssl.SSLContext] | None = None
) -> None:
    """Listen on `port` (plain) and, with `tls` = (port, context), on an HTTPS port too."""
    targets = TargetGroup(target_file)
    listeners = [(port, None), *([tls] if tls else [])]
    servers = [
        await asyncio.start_server(
            lambda r, w, p=listen_port: handle(targets, p, r, w),
            LOOPBACK,
            listen_port,
            reuse_address=True,
            limit=MAX_HEAD,
            backlog=1024,
            ssl=context,
            ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_S if context else None,
        )
        for listen_port, context in listeners
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    keeper = asyncio.ensure_future(targets.housekeeping())
    async with contextlib.AsyncExitStack() as stack:
        for server in servers:
            await stack.enter_async_context(server)
        await stop.wait()
    keeper.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.proxy", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target-file", type=Path, required=True)
    parser.add_argument("--tls-port", type=int, help="also serve HTTPS on this port")
    parser.add_argument("--tls-cert", type=Path, help="the HTTPS listener's certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="its private key (PEM)")
    args = parser.parse_args(argv)
    tls = None
    if args.tls_port is not None:
        if args.tls_cert is None or args.tls_key is None:
            parser.error("--tls-port needs --tls-cert and --tls-key")
        tls = (args.tls_port, tls_context(args.tls_cert, args.tls_key))
    asyncio.run(serve(args.port, args.target_file, tls))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
