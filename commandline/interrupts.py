"""SIGINT/SIGTERM as one exception, so every layer can undo its step and say the truth.

GitHub Actions cancels a job with SIGINT, then SIGTERM a few seconds later, then SIGKILL. The
first signal raises `Interrupted` in the main thread; the cleanup that follows (stopping the
processes the run started, marking the deployment record) must not be cut short by the second,
so later signals are only noted. Code that must not be split (write the state that names the
serving version together with the switch) runs inside `deferred()`.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from commandline.exitcodes import ExitCode, for_signal


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread by SIGINT/SIGTERM while `handle_signals()` is active.

    A KeyboardInterrupt, not just a BaseException: `except Exception` never swallows it, and
    asyncio (the Pulumi runtime's loop) re-raises it out of a task step the way it does
    Ctrl-C, where any other BaseException would be stored in the task and the loop would
    wait forever.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> ExitCode:
        return for_signal(self.signum)

    @property
    def status(self) -> str:
        return "interrupted"


#: Set by the first signal; worker threads poll it to stop waiting (they cannot be signalled).
CANCELLED = threading.Event()
_state = {"raised": False, "defer": 0, "pending": 0, "signum": 0, "acknowledged": False}


def _handler(signum: int, frame: FrameType | None) -> None:
    CANCELLED.set()
    if _state["raised"]:
        sys.stderr.write(f"{signal.Signals(signum).name} received; still stopping cleanly\n")
        return
    if _state["defer"]:
        _state["pending"] = _state["pending"] or signum
        _state["signum"] = _state["signum"] or signum
        return
    _state["raised"] = True
    _state["signum"] = signum
    raise Interrupted(signum)


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into `Interrupted` for the duration (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    _state.update(raised=False, defer=0, pending=0, signum=0, acknowledged=False)
    CANCELLED.clear()
    for sig in previous:
        signal.signal(sig, _handler)
    previous_hook = sys.unraisablehook

    def _unraisable(unraisable: Any) -> None:
        # Our Interrupted raised inside a GC callback is dropped by Python with a traceback on
        # stderr; `unacknowledged_signal` raises it again at the next step, so stay quiet.
        if not isinstance(unraisable.exc_value, Interrupted):
            previous_hook(unraisable)

    sys.unraisablehook = _unraisable
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        # this command is over
        _state.update(raised=False, defer=0, pending=0, signum=0, acknowledged=False)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold a signal until the block is done (a step that must finish or not start).

    The signal still sets `CANCELLED`, so worker threads inside the block stop waiting and undo
    their step; the main thread is not interrupted inside the block (an exception raised in
    the middle of an asyncio loop's machinery can leave it waiting forever). If the block ends
    normally the held signal is raised then; if it ends with an error, `as_interrupted` tells
    the caller a signal was behind it.
    """
    _state["defer"] += 1
    try:
        yield
    finally:
        _state["defer"] -= 1
    pending = _state["pending"]
    if threading.current_thread() is not threading.main_thread():
        return  # a worker's block (a resource's switch): the main thread raises the signal
    if not _state["defer"] and pending and not _state["raised"]:
        _state["pending"] = 0
        _state["raised"] = True
        raise Interrupted(pending)


def cancelled() -> bool:
    """True once a signal arrived (for loops in worker threads)."""
    return CANCELLED.is_set()


def as_interrupted(exc: BaseException) -> Interrupted | None:
    """`Interrupted` for a signal-made exception (a bare KeyboardInterrupt counts as SIGINT).

    Also when a signal arrived but another exception took its place on the way up: code in a
    `finally` (the Pulumi runtime waiting for its outstanding registrations, which the signal
    cancelled) can raise its own error over the one the signal raised. The truth is still
    "interrupted".
    """
    if isinstance(exc, Interrupted):
        _state["acknowledged"] = True
        return exc
    if isinstance(exc, KeyboardInterrupt):
        _state["acknowledged"] = True
        return Interrupted(signal.SIGINT)
    if _state["signum"]:
        _state["raised"] = True  # from here on, later signals only get noted
        _state["pending"] = 0
        _state["acknowledged"] = True
        return Interrupted(int(_state["signum"]))
    return None


def unacknowledged_signal() -> Interrupted | None:
    """A signal whose `Interrupted` never reached a handler, as an exception to raise now.

    Python runs a signal handler between any two bytecodes, also inside a weakref callback or
    `__del__` (garbage collection), where an exception is printed as "Exception ignored" and
    dropped: seen here as a SIGTERM during `up` that the run then ignored. A step that ends
    normally after a signal asks this, so the cancel is never lost (main thread only).
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    if not _state["signum"] or _state["acknowledged"] or _state["defer"]:
        return None
    _state.update(raised=True, pending=0, acknowledged=True)
    return Interrupted(int(_state["signum"]))
