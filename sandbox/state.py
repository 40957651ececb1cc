"""The sandbox's state folder, `.sandbox/<stack>/`: paths, atomic JSON files and a stack lock.

Everything the sandbox knows between CLI runs lives here (moto and app pids/ports, deployments,
the last deployed resource graph, EB versions), so `up` is idempotent across processes. Writes
go to a temp file and are renamed into place, so a crash mid-write never leaves half a JSON
file for the next run (or for `verify`, which reads outputs.json) to choke on.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common import jsonfile
from common.jsonfile import write_json_atomic
from common.paths import StackPaths
from common.polling import WaitTimeout, wait_until
from sandbox.errors import SandboxError, StackLockedError


def utc_timestamp() -> str:
    """Now, as the ISO-8601 UTC second stamps the state files use."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def read_json(path: Path, default: Any = None) -> Any:
    """A state file's JSON (`default` when missing); corrupt is a SandboxError that names `down`."""
    try:
        return jsonfile.read_json(path, default)
    except jsonfile.CorruptJSONError as exc:
        raise SandboxError(
            f"sandbox state file {exc.path} is corrupt ({exc.cause}); run `down` to reset"
        ) from exc


@contextlib.contextmanager
def stack_lock(
    paths: StackPaths,
    *,
    wait_s: float = 0.0,
    on_wait: Any = None,
    on_stale: Any = None,
    poll_s: float = 0.2,
    progress_every_s: float = 5.0,
) -> Iterator[None]:
    """Hold an exclusive lock on the stack so two CLIs never deploy it at once.

    Pulumi refuses concurrent updates of one stack (ConcurrentUpdateError); so do we, with the
    same kind of message instead of two processes racing over the same ports and pids. A held
    lock is waited for up to `wait_s` (`on_wait(line)` every few seconds). The holder's pid and
    command are written into the lock file: the kernel releases a killed holder's flock, and the
    pid it leaves behind tells the next holder (`on_stale(line)`) that a run died holding it.
    """
    paths.root.mkdir(parents=True, exist_ok=True)
    with open(paths.lock, "a+") as handle:

        def acquired() -> bool:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        next_progress = [progress_every_s]

        def progress(waited: float) -> None:
            if on_wait is not None and waited >= next_progress[0]:
                on_wait(
                    f"stack '{paths.stack}' is locked by another command"
                    f"{_lock_holder(paths.lock)}; waiting {waited:.0f}s of {wait_s:.0f}s"
                )
                next_progress[0] += progress_every_s

        started = time.monotonic()
        try:
            wait_until(
                acquired,
                timeout=wait_s,
                what=f"the lock of stack '{paths.stack}'",
                interval=poll_s,
                on_wait=progress,
            )
        except WaitTimeout:
            raise StackLockedError(
                f"stack '{paths.stack}' is being changed by another command"
                f"{_lock_holder(paths.lock)} (lock {paths.lock}); "
                f"waited {time.monotonic() - started:.0f}s"
            ) from None
        try:
            handle.seek(0)
            previous = handle.read().strip()
            if previous and on_stale is not None:
                on_stale(
                    f"cleaned a stale lock on stack '{paths.stack}': {previous} died holding it"
                )
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} ({' '.join(_argv())})")
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _lock_holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return f" ({text})" if text else ""


def _argv() -> list[str]:
    return [os.path.basename(sys.argv[0]) if sys.argv else "python", *sys.argv[1:4]]


class SandboxState:
    """sandbox.json in memory, shared by the engine and the EB realiser (worker threads).

    Every mutation goes through `update()` under one lock and is written through at once, so
    a process started by a deployment is on disk before anything else can fail — `down` can
    always find what `up` started.
    """

    def __init__(self, paths: StackPaths) -> None:
        self.paths = paths
        self._lock = threading.RLock()
        self.data: dict[str, Any] = read_json(paths.sandbox, default=None) or {
            "stack": paths.stack,
            "deployments": [],
            "eb": {"applications": {}, "versions": {}, "environments": {}},
        }

    def get(self, *keys: str, default: Any = None) -> Any:
        with self._lock:
            node: Any = self.data
            for key in keys:
                if not isinstance(node, dict) or key not in node:
                    return default
                node = node[key]
            return node

    @contextlib.contextmanager
    def update(self) -> Iterator[dict[str, Any]]:
        """Mutate `data` under the lock; written to disk atomically on exit."""
        with self._lock:
            yield self.data
            write_json_atomic(self.paths.sandbox, self.data)
