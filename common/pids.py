"""Is a recorded process still the one we recorded? A pid plus its kernel start time says so.

A pid alone is not enough: after a crash or a reboot it may belong to an unrelated process, and
a cleanup must never take someone else's process for our own. Linux only (`/proc`), like the
sandbox's process handling; elsewhere every process reads as gone.
"""

from __future__ import annotations

import os
from pathlib import Path


def start_time(pid: int) -> int | None:
    """The kernel's start time of `pid` (clock ticks since boot); None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # Field 2 (comm) may contain spaces and parentheses; fields after the last ')' are fixed.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie is gone for our purposes
        return None
    return int(fields[19])


def running(pid: int) -> bool:
    """The process exists and is not a zombie (its start time is unknown to the caller)."""
    return start_time(pid) is not None


def same_process(pid: int, recorded_start: int) -> bool:
    """`pid` still runs and started when recorded: it is the very process, not a reused pid."""
    return start_time(pid) == recorded_start


def this_process() -> dict[str, int]:
    """This process as `{"pid", "start_time"}`, for a file that says who owns something."""
    pid = os.getpid()
    return {"pid": pid, "start_time": start_time(pid) or 0}
