"""Result types shared by the runner, the checks and the report writers.

Kept free of I/O so reports can be rebuilt from `verify.json` alone and tests can build results
without running anything.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from commandline.exitcodes import ExitCode


class Status(enum.StrEnum):
    PASSED = "PASSED"
    FAILED = "FAILED"  # the deployment does not do what it should
    SKIPPED = "SKIPPED"  # not run, e.g. because readiness failed first
    ERROR = "ERROR"  # verify could not reach a verdict (timeout, crash in a check)
    BLOCKED = "BLOCKED"  # waiting on a named manual step (an SES identity still pending)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class CheckFailed(Exception):
    """Raised by a check when the deployment is wrong; the message is the one a person reads.

    A check that finds several problems raises once with all of them (see `Problems`), so a
    single run shows everything to fix instead of one thing per run.
    """

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class TlsFailed(CheckFailed):
    """TLS to the app failed (a certificate for another host, an untrusted CA): permanent, so
    no retry or readiness poll waits for it (verify/transport.py words the message)."""


class CheckBlocked(Exception):
    """Raised when the deployment cannot be judged until a person does something named.

    Not a failure of the deployment (rolling back would not help): e.g. an SES identity is
    pending until its DKIM records are in DNS or its verification link is clicked.
    """

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


def problem(subject: str, expected: Any, seen: Any, where: str) -> str:
    """The one message format every check uses: what, expected, seen, where to look."""
    return f"{subject}: expected {expected}, got {seen} — check {where}"


class Problems:
    """Collects every problem a check finds, then fails once listing them all."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def expect(self, ok: bool, subject: str, expected: Any, seen: Any, where: str) -> bool:
        if not ok:
            self.add(problem(subject, expected, seen, where))
        return ok

    def raise_if_any(self, details: dict[str, Any] | None = None) -> None:
        if self.items:
            raise CheckFailed("; ".join(self.items), {**(details or {}), "problems": self.items})


@dataclass
class Outcome:
    """What a passing check returns: a one-line summary and structured details for reports."""

    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckResult:
    name: str
    status: Status
    duration_s: float
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    timestamp: str = field(default_factory=utc_now)

    @property
    def ok(self) -> bool:
        return self.status is Status.PASSED

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["duration_s"] = round(self.duration_s, 3)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(
            name=data["name"],
            status=Status(data["status"]),
            duration_s=float(data["duration_s"]),
            message=data.get("message", ""),
            details=data.get("details") or {},
            timestamp=data.get("timestamp") or utc_now(),
        )


@dataclass
class Report:
    """One verification run: every check's result plus the context needed to read it later."""

    results: list[CheckResult]
    wall_s: float
    outputs: dict[str, Any] = field(default_factory=dict)
    started_at: str = field(default_factory=utc_now)
    stack: str | None = None
    report_dir: str | None = None

    @property
    def passed(self) -> bool:
        """True only when something ran and nothing failed or errored.

        SKIPPED alone is not a pass: a run where every check was skipped proved nothing.
        """
        statuses = {r.status for r in self.results}
        return Status.PASSED in statuses and not statuses & {Status.FAILED, Status.ERROR}

    @property
    def blocked(self) -> bool:
        """Only manual steps stand between this deployment and a pass (nothing failed)."""
        statuses = {r.status for r in self.results}
        return Status.BLOCKED in statuses and not statuses & {Status.FAILED, Status.ERROR}

    @property
    def exit_code(self) -> int:
        """0 passed, 1 failed, 6 blocked on a manual step (commandline.exitcodes' table)."""
        if self.passed:
            return ExitCode.OK
        return ExitCode.BLOCKED if self.blocked else ExitCode.FAILED

    @property
    def totals(self) -> dict[str, int]:
        counts = {s.value: 0 for s in Status}
        for r in self.results:
            counts[r.status.value] += 1
        counts["total"] = len(self.results)
        return counts

    @property
    def checks_sum_s(self) -> float:
        """Sum of the checks' own durations; compare with wall_s to see the concurrency gain."""
        return sum(r.duration_s for r in self.results)

    def result(self, name: str) -> CheckResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(f"no result for check {name!r}; ran: {[r.name for r in self.results]}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "started_at": self.started_at,
            "passed": self.passed,
            "wall_s": round(self.wall_s, 3),
            "checks_sum_s": round(self.checks_sum_s, 3),
            "totals": self.totals,
            "outputs": self.outputs,
            "checks": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        return cls(
            results=[CheckResult.from_dict(c) for c in data.get("checks", [])],
            wall_s=float(data.get("wall_s", 0.0)),
            outputs=data.get("outputs") or {},
            started_at=data.get("started_at") or utc_now(),
            stack=data.get("stack"),
        )
