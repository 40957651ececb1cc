"""Back-pressure for photo processing: a few inference slots per worker and a short queue.

A photo costs ~1 CPU-second; a worker that accepts more than it can run only makes every
caller wait longer (and memory grows with every decoded upload held). So each worker runs at
most ``INFERENCE_SLOTS`` photos at once (one: a second one only splits the same cores) and lets
at most ``INFERENCE_QUEUE`` more wait; the next request is answered at once with
``503 busy`` and ``Retry-After`` instead of queueing behind the others. The slots are fewer than
gunicorn's threads (app/gunicorn.conf.py), so a thread is always free for ``/health``: the load
balancer never takes a busy but healthy instance out of service. 503s are what EB's autoscaling
trigger and the load test see (components/eb_settings.py, verify/checks/load.py).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, Response, jsonify

#: Photos processed at once per worker (gunicorn.conf.py sizes ORT threads for one).
INFERENCE_SLOTS = int(os.environ.get("INFERENCE_SLOTS", "1"))
#: Photos allowed to wait per worker; beyond it the request is refused at once. Two, because
#: gunicorn's gthread workers accept connections greedily: one worker may hold every request
#: of a small burst while the other idles. 1 running + 2 waiting leaves 1 of 4 threads free.
INFERENCE_QUEUE = int(os.environ.get("INFERENCE_QUEUE", "2"))
#: Seconds a refused client should wait: about the time one queued photo takes.
RETRY_AFTER_S = 2


class Busy(Exception):
    """Every inference slot is busy and the queue is full."""


class InferenceGate:
    """A counting gate: ``slots`` run, ``queue`` wait, the rest are refused (``Busy``)."""

    def __init__(self, slots: int = INFERENCE_SLOTS, queue: int = INFERENCE_QUEUE) -> None:
        self.slots = max(1, slots)
        self.queue = max(0, queue)
        self._run = threading.BoundedSemaphore(self.slots)
        self._lock = threading.Lock()
        self.admitted = 0  # running + waiting
        self.refused = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self.admitted >= self.slots + self.queue:
                self.refused += 1
                raise Busy
            self.admitted += 1
        try:
            with self._run:
                try:
                    yield
                finally:
                    release_freed_memory()
        finally:
            with self._lock:
                self.admitted -= 1


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


GATE = InferenceGate()


def install(app: Flask) -> None:
    """The 503 answer for ``Busy`` (JSON error shape, ``Retry-After``, never retried silently)."""

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
