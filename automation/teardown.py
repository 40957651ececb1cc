"""Tearing down a throwaway check sandbox while the pipeline goes on.

Stopping its gunicorn gracefully and its moto takes ~1.8 s that nothing after the check waits
for: preview and up use the stack's own sandbox. The teardown runs in a non-daemon thread, so
the interpreter still waits for it at exit, and `wait_for_teardowns()` lets a command that
reports "nothing left running" (the end of a run) wait for it first. An interrupted or failed
check tears down in the foreground instead (the signal handling expects it gone).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_PENDING: list[threading.Thread] = []
_LOCK = threading.Lock()


def in_background(what: str, teardown: Callable[[], None]) -> None:
    thread = threading.Thread(target=teardown, name=f"teardown {what}", daemon=False)
    with _LOCK:
        _PENDING[:] = [t for t in _PENDING if t.is_alive()]
        _PENDING.append(thread)
    thread.start()


def wait_for_teardowns(timeout: float | None = None) -> None:
    """Until every background teardown started so far has finished."""
    with _LOCK:
        pending = list(_PENDING)
    for thread in pending:
        thread.join(timeout)
