"""Deadline-bounded retry with exponential backoff, for errors known to be transient only.

Verify needs its own (rather than a generic retry) because every wait must end by the check's
deadline: a retry loop that outlives `--timeout` is exactly the hang the runner must prevent.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from verify.model import Deadline
from verify.progress import log

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    attempts: int = 5
    base_s: float = 0.25
    factor: float = 2.0
    max_s: float = 5.0
    jitter: float = 0.2  # ± fraction, so concurrent checks do not retry in lockstep

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


def call_with_retry(
    fn: Callable[[], T],
    *,
    what: str,
    is_transient: Callable[[BaseException], bool],
    deadline: Deadline,
    backoff: Backoff = Backoff(),
    sleep: Callable[[float], None] = time.sleep,
    log_line: Callable[[str], None] = log,
    asked_wait: Callable[[BaseException], float | None] = lambda exc: None,
) -> T:
    """Call fn; retry only what is_transient accepts, with backoff, never past the deadline.

    Non-transient errors propagate at once (retrying a 404 or a denied call only hides the
    real answer for longer). A wait the server asked for (`asked_wait`: Retry-After) is
    honoured, not undercut: retrying a rate limiter sooner only counts against the limit again.
    A log line per retry makes slow runs explainable.
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
