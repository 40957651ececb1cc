"""Every wait in the project: a deadline, exponential backoff, and `wait_until`.

A wait that outlives its budget is the hang a pipeline must never have, so each loop here ends
by a deadline and says what it waited for; retries happen only for errors the caller calls
transient, with a log line per retry so a slow run explains itself.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class Deadline:
    """A point in monotonic time; every wait and network timeout is clipped to it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def clip(self, timeout: float) -> float:
        """A timeout no longer than what is left (and never 0, which requests treats as none)."""
        return max(0.05, min(timeout, self.remaining()))

    def earliest(self, other: Deadline) -> Deadline:
        return self if self.at <= other.at else other


@dataclass(frozen=True)
class Backoff:
    attempts: int = 5
    base_s: float = 0.25
    factor: float = 2.0
    max_s: float = 5.0
    jitter: float = 0.2  # ± fraction, so concurrent waiters do not retry in lockstep

    def delay(self, attempt: int) -> float:
        """Delay after failed attempt number `attempt` (1-based)."""
        raw = min(self.max_s, self.base_s * self.factor ** (attempt - 1))
        return raw * random.uniform(1 - self.jitter, 1 + self.jitter)  # noqa: S311 - jitter


class RetriesExhausted(Exception):
    """Transient errors all the way to the last attempt or the deadline."""

    def __init__(self, what: str, attempts: int, last: BaseException) -> None:
        super().__init__(f"{what}: still failing after {attempts} attempt(s): {last}")
        self.what = what
        self.attempts = attempts
        self.last = last


class WaitTimeout(TimeoutError):
    """`wait_until` ran out of time; the message says what it waited for and for how long."""


def _no_log(line: str) -> None:
    return None


def call_with_retry(
    fn: Callable[[], T],
    *,
    what: str,
    is_transient: Callable[[BaseException], bool],
    deadline: Deadline,
    backoff: Backoff = Backoff(),
    sleep: Callable[[float], None] = time.sleep,
    log_line: Callable[[str], None] = _no_log,
    asked_wait: Callable[[BaseException], float | None] = lambda exc: None,
) -> T:
    """Call fn; retry only what is_transient accepts, with backoff, never past the deadline.

    Non-transient errors propagate at once (retrying a 404 or a denied call only hides the
    real answer for longer). A wait the server asked for (`asked_wait`: Retry-After) is
    honoured, not undercut: retrying a rate limiter sooner only counts against the limit again.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            wait = max(backoff.delay(attempt), asked_wait(exc) or 0.0)
            if attempt >= backoff.attempts or wait >= deadline.remaining():
                raise RetriesExhausted(what, attempt, exc) from exc
            log_line(
                f"retry {what}: {exc} (attempt {attempt}/{backoff.attempts}, next in {wait:.2f}s)"
            )
            sleep(wait)


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.2,
    max_interval: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_wait: Callable[[float], None] | None = None,
) -> T:
    """Call `probe` until it returns something truthy, and return that; WaitTimeout otherwise.

    `probe` may raise to abort the wait (a process that died will never become healthy).
    `interval` grows by half each round up to `max_interval` (default: `interval`, i.e. fixed).
    `on_wait(elapsed_s)` runs between rounds, for progress lines.
    """
    deadline = Deadline(timeout)
    started = time.monotonic()
    step = interval
    ceiling = interval if max_interval is None else max_interval
    while True:
        result = probe()
        if result:
            return result
        if deadline.expired:
            raise WaitTimeout(f"{what}: not within {timeout:g}s")
        if on_wait is not None:
            on_wait(time.monotonic() - started)
        sleep(min(step, max(0.01, deadline.remaining())))
        step = min(ceiling, step * 1.5)
