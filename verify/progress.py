"""Verify's progress: one line per check start/finish and per retry, safe from any check thread.

A CLI routes the lines through its reporter (`routed_to(reporter.lines("verify"))`, see
commandline.console.Reporter): human lines on a terminal, JSON lines in a pipe or CI. Without
one (verify used as a library) each line is `[verify HH:MM:SS] message` on stderr. Never
stdout: it stays free for the report path (and the pipeline's result) that scripts capture.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

Sink = Callable[[str], None]

_lock = threading.Lock()
_stream: TextIO | None = None  # None = sys.stderr at call time (pytest swaps it)
_quiet = False
_sink: Sink | None = None


def configure(
    *, stream: TextIO | None = None, quiet: bool = False, sink: Sink | None = None
) -> None:
    """Where lines go: `sink` (a reporter's), else human lines on `stream`; `quiet`: nowhere."""
    global _stream, _quiet, _sink
    _stream, _quiet, _sink = stream, quiet, sink


@contextlib.contextmanager
def routed_to(sink: Sink) -> Iterator[None]:
    """Send the lines to `sink` for the duration (one command), then restore the previous."""
    global _stream, _quiet, _sink
    saved = (_stream, _quiet, _sink)
    configure(sink=sink)
    try:
        yield
    finally:
        _stream, _quiet, _sink = saved


def log(message: str) -> None:
    if _quiet:
        return
    sink = _sink
    if sink is not None:
        sink(message)
        return
    line = f"[verify {time.strftime('%H:%M:%S')}] {message}\n"
    with _lock:
        out = _stream or sys.stderr
        out.write(line)
        out.flush()
