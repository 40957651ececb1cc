"""Back-pressure for photo processing: a few inference slots per worker and a short queue.

A photo costs ~1 CPU-second; an instance that accepts more than it can run only makes every
caller wait longer (and memory grows with every decoded upload held). So the instance runs at
most ``INFERENCE_SLOTS`` photos at once (one per vCPU: more only split the same cores) and lets
at most ``INFERENCE_QUEUE`` more wait; the next request is answered at once with
``503 busy`` and ``Retry-After`` instead of queueing behind the others. A worker admits fewer
photos than gunicorn's threads (app/gunicorn.conf.py), so a thread is always free for
``/health``: the load balancer never takes a busy but healthy instance out of service. 503s
and CPU are what EB's autoscaling trigger and the load test see (components/eb_settings.py,
verify/checks/load.py).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify

#: Photos in inference at once on the whole instance: one per vCPU (gunicorn.conf.py sets it to
#: the worker count, each worker's ORT pool having one thread).
INFERENCE_SLOTS = int(os.environ.get("INFERENCE_SLOTS", "2"))
#: Photos allowed to wait on the instance; beyond it the request is refused at once.
INFERENCE_QUEUE = int(os.environ.get("INFERENCE_QUEUE", "2"))
#: Photos admitted (running or waiting) per worker: fewer than gunicorn's threads (4), so a
#: thread is always free for /health.
WORKER_ADMITTED = int(os.environ.get("INFERENCE_WORKER_ADMITTED", "3"))
#: Seconds a refused client should wait: about the time one queued photo takes.
RETRY_AFTER_S = 2


class Busy(Exception):
    """Every inference slot is busy and the queue is full."""


def gate_dir_for(master_pid: int) -> Path:
    """The slot files of the gunicorn master `master_pid` (removed by its on_exit hook)."""
    return Path(tempfile.gettempdir()) / f"passport-gate-{os.getuid()}-{master_pid}"


def default_gate_dir() -> Path:
    """One folder per gunicorn master (the workers' parent), so instances never share slots."""
    return gate_dir_for(os.getppid())


class InferenceGate:
    """``slots`` photos run and ``queue`` wait across every worker of the instance; the rest are
    refused (``Busy``). Instance-wide, not per worker: gunicorn's gthread workers accept
    connections greedily, so a per-worker limit serialised two photos that landed in one worker
    while the other worker idled. The slots are flock()ed files — the kernel releases them when
    a worker dies, so a killed worker never leaks capacity. Per worker at most ``per_worker``
    are admitted, fewer than its threads, so `/health` always finds a free thread.
    """

    def __init__(
        self,
        slots: int = INFERENCE_SLOTS,
        queue: int = INFERENCE_QUEUE,
        per_worker: int = WORKER_ADMITTED,
        directory: Path | None = None,
    ) -> None:
        self.slots = max(1, slots)
        self.queue = max(0, queue)
        self.per_worker = max(1, per_worker)
        self._dir = directory
        self._lock = threading.Lock()
        self.admitted = 0  # in this worker: running + waiting
        self.refused = 0

    @property
    def directory(self) -> Path:
        if self._dir is None:
            self._dir = default_gate_dir()
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self._dir

    def _try_any(self, kind: str, count: int) -> int | None:
        """An fd holding an exclusive flock on one of `count` files, or None if all are held."""
        for i in range(count):
            fd = os.open(self.directory / f"{kind}-{i}", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                os.close(fd)
        return None

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self.admitted >= self.per_worker:
                self.refused += 1
                raise Busy
            self.admitted += 1
        try:
            ticket = self._try_any("ticket", self.slots + self.queue)
            if ticket is None:
                with self._lock:
                    self.refused += 1
                raise Busy
            try:
                run = self._try_any("slot", self.slots)
                while run is None:
                    time.sleep(0.02)
                    run = self._try_any("slot", self.slots)
                try:
                    yield
                finally:
                    os.close(run)
                    release_freed_memory()
            finally:
                os.close(ticket)
        finally:
            with self._lock:
                self.admitted -= 1


GATE = InferenceGate()


def install(app: Flask) -> None:
    """The 503 answer for ``Busy`` (JSON error shape, ``Retry-After``)."""

    @app.errorhandler(Busy)
    def _busy(_exc: Busy) -> Response:
        response = jsonify(
            {
                "error": {
                    "code": "busy",
                    "message": "every photo slot on this instance is busy; retry after "
                    f"{RETRY_AFTER_S} s",
                }
            }
        )
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response


def _libc() -> Any:
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


_LIBC = _libc()
#: glibc's mallopt parameter for the number of malloc arenas.
M_ARENA_MAX = -8


def limit_malloc_arenas(count: int = 2) -> None:
    """Fewer glibc malloc arenas (default 8 × cores): with ORT's own arena off, decoded images
    and tensors are malloc'd from whichever thread ran the request, and each thread's arena kept
    its high-water mark (measured: workers at 850-1050 MB instead of ~600)."""
    if _LIBC is not None and hasattr(_LIBC, "mallopt"):
        _LIBC.mallopt(M_ARENA_MAX, count)


def release_freed_memory() -> None:
    """Give freed heap pages back to the OS after a photo (glibc keeps them otherwise)."""
    if _LIBC is not None and hasattr(_LIBC, "malloc_trim"):
        _LIBC.malloc_trim(0)
