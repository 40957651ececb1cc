"""Runs checks: readiness first, then the rest on a bounded pool, every one under a deadline.

Python threads cannot be killed, so the guarantee that nothing hangs has two layers: every
network call inside a check is clipped to the check's deadline (cooperative), and the runner
stops waiting for a check shortly after its deadline and reports it timed out (hard). Worker
threads are daemons, so an abandoned check can never keep the process alive.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from common.polling import Deadline
from verify.context import Check, CheckContext
from verify.model import CheckBlocked, CheckFailed, CheckResult, Status
from verify.progress import log
from verify.transport import Transport

#: Extra time past a check's own deadline before the runner gives up on it; lets a check that
#: noticed its deadline report its own, more specific message first.
GRACE_S = 1.0
READINESS = "readiness"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def timeout_message(timeout_s: float, run_timeout_s: float | None = None) -> str:
    """'timed out after Ns', saying when it was the whole run's bound that cut the check short."""
    if run_timeout_s is not None:
        return (
            f"timed out after {timeout_s:.1f}s "
            f"(the whole run's timeout of {run_timeout_s:g}s ran out)"
        )
    return f"timed out after {timeout_s:g}s"


def execute(
    check: Check, ctx: CheckContext, timeout_s: float, why: str | None = None
) -> CheckResult:
    """Run one check in the calling thread; every exception becomes a result, never escapes."""
    started = time.monotonic()
    try:
        outcome = check.run(ctx)
        status, message, details = Status.PASSED, outcome.message, outcome.details
    except CheckFailed as exc:
        status, message, details = Status.FAILED, str(exc), exc.details
    except CheckBlocked as exc:
        status, message, details = Status.BLOCKED, str(exc), exc.details
    except Exception as exc:  # a bug or an unexpected answer: no verdict, but say what
        status, message = Status.ERROR, f"{type(exc).__name__}: {exc}"
        details = {"traceback": traceback.format_exc(limit=6)}
    finally:
        ctx.close()
    if status is not Status.PASSED and ctx.deadline.expired:
        status = Status.ERROR
        message = f"{why or timeout_message(timeout_s)}: {message}"
    return CheckResult(check.name, status, time.monotonic() - started, message, details)


class _Group:
    """One wave of checks on at most `concurrency` live threads."""

    def __init__(
        self,
        checks: list[Check],
        contexts: dict[str, CheckContext],
        timeouts: dict[str, float],
        run_deadline: Deadline,
        run_timeout_s: float,
        concurrency: int,
    ) -> None:
        self.queue = deque(checks)
        self.contexts = contexts
        self.timeouts = timeouts
        self.run_deadline = run_deadline
        self.run_timeout_s = run_timeout_s
        self.concurrency = max(1, concurrency)
        self.cond = threading.Condition()
        self.running: dict[str, tuple[float, float]] = {}  # name -> (started, give_up_at)
        self.done: dict[str, CheckResult] = {}
        self.clipped: set[str] = set()  # checks whose timeout the run deadline shortened

    def _finish(self, result: CheckResult) -> None:
        with self.cond:
            if result.name in self.done:  # already reported as timed out; late answer ignored
                return
            _report_end(result)  # before waking the runner, so the line precedes the summary
            self.done[result.name] = result
            self.running.pop(result.name, None)
            self.cond.notify_all()

    def _start(self, check: Check) -> None:
        timeout = self.timeouts[check.name]
        ctx = self.contexts[check.name]
        ctx.deadline = Deadline(timeout)
        now = time.monotonic()
        self.running[check.name] = (now, ctx.deadline.at + GRACE_S)
        log(f"▶ {check.name} started (timeout {timeout:.1f}s)")
        why = self._why(check.name)
        thread = threading.Thread(
            target=lambda: self._finish(execute(check, ctx, timeout, why)),
            name=f"verify-{check.name}",
            daemon=True,
        )
        thread.start()

    def run(self) -> dict[str, CheckResult]:
        with self.cond:
            while self.queue or self.running:
                while self.queue and len(self.running) < self.concurrency:
                    if self.run_deadline.expired:
                        break
                    check = self.queue.popleft()
                    left = max(0.1, self.run_deadline.remaining())
                    if left < self.timeouts[check.name]:
                        self.timeouts[check.name] = left
                        self.clipped.add(check.name)
                    self._start(check)
                now = time.monotonic()
                for name, (started, give_up_at) in list(self.running.items()):
                    if now >= give_up_at:
                        self._give_up(name, now - started)
                if self.run_deadline.expired and now >= self.run_deadline.at + GRACE_S:
                    for name, (started, _) in list(self.running.items()):
                        self._give_up(name, now - started)
                    while self.queue:
                        self._never_started(self.queue.popleft())
                    break
                if not (self.queue or self.running):
                    break
                wake = [g for _, g in self.running.values()] + [self.run_deadline.at + GRACE_S]
                self.cond.wait(timeout=max(0.01, min(wake) - time.monotonic()))
        return self.done

    def _why(self, name: str) -> str:
        clipped_by = self.run_timeout_s if name in self.clipped else None
        return timeout_message(self.timeouts[name], clipped_by)

    def _give_up(self, name: str, elapsed: float) -> None:
        result = CheckResult(
            name,
            Status.ERROR,
            elapsed,
            f"{self._why(name)}; the check did not stop, its thread was abandoned",
            {"timeout_s": round(self.timeouts[name], 3)},
        )
        self.done[name] = result
        self.running.pop(name, None)
        _report_end(result)

    def _never_started(self, check: Check) -> None:
        result = CheckResult(
            check.name,
            Status.ERROR,
            0.0,
            f"not started: the whole run's timeout of {self.run_timeout_s:g}s ran out first",
        )
        self.done[check.name] = result
        _report_end(result)


def _report_end(result: CheckResult) -> None:
    mark = {"PASSED": "✔", "FAILED": "✘", "ERROR": "!", "SKIPPED": "–"}[result.status.value]
    log(
        f"{mark} {result.name} {result.status.value} in {result.duration_s:.2f}s — "
        f"{_short(result.message)}"
    )


def run_checks(
    checks: Iterable[Check],
    outputs: dict[str, Any],
    *,
    concurrency: int = 4,
    timeout_s: float = 600.0,
    report_dir: Path | None = None,
    images_dir: Path,
    check_timeouts: dict[str, float] | None = None,
    aws_env: dict[str, str] | None = None,
    transport: Transport | None = None,
) -> list[CheckResult]:
    """Readiness (if selected) first, then the rest concurrently, then exclusive checks alone.

    When readiness fails, the checks that need the app are SKIPPED (their failures would only
    repeat "app not reachable"); checks that talk only to AWS still run.
    """
    checks = list(checks)
    run_deadline = Deadline(timeout_s)
    timeouts = {c.name: float((check_timeouts or {}).get(c.name, c.timeout_s)) for c in checks}
    contexts = {
        c.name: CheckContext(
            c.name, outputs, run_deadline, images_dir, report_dir, aws_env, transport
        )
        for c in checks
    }
    results: dict[str, CheckResult] = {}

    def wave(group: list[Check], concurrency: int) -> None:
        if group:
            results.update(
                _Group(group, contexts, timeouts, run_deadline, timeout_s, concurrency).run()
            )

    first = [c for c in checks if c.name == READINESS]
    rest = [c for c in checks if c.name != READINESS]
    wave(first, 1)
    if first and not results[READINESS].ok:
        why = _short(results[READINESS].message, 120)
        for c in rest:
            if c.needs_app:
                results[c.name] = CheckResult(
                    c.name, Status.SKIPPED, 0.0, f"skipped: readiness did not pass ({why})"
                )
                _report_end(results[c.name])
        rest = [c for c in rest if not c.needs_app]
    wave([c for c in rest if not c.exclusive], concurrency)
    wave([c for c in rest if c.exclusive], 1)
    return [results[c.name] for c in checks]
