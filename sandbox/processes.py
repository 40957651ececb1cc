"""Detached child processes (moto, gunicorn, the proxy) that outlive the CLI.

Each is started in its own session, so it survives the CLI exiting and its whole process
group (gunicorn master + workers) can be stopped at once. A recorded process is identified by
pid *and* its kernel start time: a pid alone may have been reused by an unrelated process after
a reboot, and `down` must never signal something it did not start.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from common.pids import start_time
from common.polling import WaitTimeout, wait_until


@dataclass(frozen=True)
class ProcessRecord:
    """A process we started: enough to find it again and to stop exactly it."""

    pid: int
    start_time: int
    command: str
    log: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ProcessRecord | None:
        if not data:
            return None
        return cls(
            int(data["pid"]), int(data["start_time"]), str(data["command"]), str(data["log"])
        )


def is_alive(record: ProcessRecord | None) -> bool:
    """True when the recorded process still runs and is the one we started."""
    return record is not None and start_time(record.pid) == record.start_time


def spawn(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path
) -> tuple[ProcessRecord, subprocess.Popen[bytes]]:
    """Start `argv` detached (new session), stdout+stderr appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - argv built by us, no shell
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    # The kernel may not show the child in /proc at once; an exited one records start time 0.
    with contextlib.suppress(WaitTimeout):
        wait_until(
            lambda: start_time(proc.pid) is not None or proc.poll() is not None,
            timeout=0.5,
            what=f"pid {proc.pid} in /proc",
            interval=0.01,
        )
    start = start_time(proc.pid)
    return ProcessRecord(proc.pid, start or 0, " ".join(argv), str(log)), proc


def stop(record: ProcessRecord | None, timeout: float = 15.0) -> None:
    """SIGTERM the process group (graceful: gunicorn finishes requests), SIGKILL after timeout."""
    if not is_alive(record):
        return
    assert record is not None

    def gone() -> bool:
        _reap(record.pid)
        return not is_alive(record) and not _group_alive(record.pid)

    _signal_group(record.pid, signal.SIGTERM)
    try:
        wait_until(gone, timeout=timeout, what=f"pid {record.pid} to stop", interval=0.05)
        return
    except WaitTimeout:
        pass
    _signal_group(record.pid, signal.SIGKILL)
    with contextlib.suppress(WaitTimeout):
        wait_until(gone, timeout=5, what=f"pid {record.pid} to die", interval=0.05)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The process leads its own session, so its pgid is its pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _group_alive(pgid: int) -> bool:
    """Any process (not a zombie) still in the group? Workers may outlive a killed master."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def _reap(pid: int) -> None:
    """Collect the exit status if it is our own child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b[^\n]*")


def first_error(path: Path | str) -> str | None:
    """The first exception line in a log: the cause, which a short tail can scroll past."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    for line in text.splitlines():
        match = _EXCEPTION_LINE.match(line.strip())
        if match:
            return match.group(0)
    return None


def tail(path: Path | str, lines: int = 20) -> str:
    """The last lines of a log file (for error messages about a process that failed)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.rstrip().splitlines()[-lines:])
