"""Pipeline health from the run folders: how often runs succeed, how long each stage takes, and
which stage just got slower than it usually is.

Reads the `run.json` of each run folder (reports/<stack>/<run_id>/, verify.reports.index
load_runs): the stages a run went through, each with its duration. A stage's latest duration
is flagged when it exceeds the p95 of its own `recent` earlier runs (at least `min_history` of
them: fewer say nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .fourkeys import nearest_rank

STAGES = ("check", "preview", "up", "verify", "rollback")
#: The commands whose outcome is a deployment's (what "success rate of runs" counts).
RUN_COMMANDS = ("run", "promote")
RECENT = 20
MIN_HISTORY = 5


@dataclass
class StageHealth:
    stage: str
    count: int
    p50_s: float | None
    p95_s: float | None
    latest_s: float | None
    recent_p95_s: float | None = None
    slower: bool = False
    """The latest run's duration is above the p95 of the runs before it."""


@dataclass
class RunHealth:
    runs: int
    succeeded: int
    success_rate: float | None
    stages: list[StageHealth] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def slower(self) -> list[str]:
        return [s.stage for s in self.stages if s.slower]


def run_health(
    runs: Sequence[dict[str, Any]],
    *,
    since: float,
    until: float,
    recent: int = RECENT,
    min_history: int = MIN_HISTORY,
) -> RunHealth:
    """`runs` as load_runs gives them (any order); only `run`/`promote` in [since, until)."""
    chosen = sorted(
        (
            r
            for r in runs
            if r.get("command") in RUN_COMMANDS and since <= (r.get("started_at") or 0) < until
        ),
        key=lambda r: r.get("started_at") or 0,
    )
    succeeded = sum(1 for r in chosen if r.get("status") == "succeeded")
    health = RunHealth(
        runs=len(chosen),
        succeeded=succeeded,
        success_rate=succeeded / len(chosen) if chosen else None,
    )
    for stage in STAGES:
        durations = [
            float(s["duration_s"])
            for r in chosen
            for s in r.get("stages", [])
            if s.get("stage") == stage and s.get("duration_s") is not None
        ]
        if not durations:
            continue
        history = durations[:-1][-recent:]
        item = StageHealth(
            stage=stage,
            count=len(durations),
            p50_s=nearest_rank(durations, 0.5),
            p95_s=nearest_rank(durations, 0.95),
            latest_s=durations[-1],
        )
        if len(history) >= min_history:
            item.recent_p95_s = nearest_rank(history, 0.95)
            item.slower = durations[-1] > item.recent_p95_s
        health.stages.append(item)
    return health
