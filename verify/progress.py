"""Terminal progress: one line per event on stderr, safe to call from any check thread.

stderr, so stdout stays free for the report path that scripts (and `make demo`) capture.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

_lock = threading.Lock()
_stream: TextIO | None = None  # None = sys.stderr at call time (pytest swaps it)
_quiet = False


def configure(*, stream: TextIO | None = None, quiet: bool = False) -> None:
    global _stream, _quiet
    _stream, _quiet = stream, quiet


def log(message: str) -> None:
    if _quiet:
        return
    line = f"[verify {time.strftime('%H:%M:%S')}] {message}\n"
    with _lock:
        out = _stream or sys.stderr
        out.write(line)
        out.flush()
