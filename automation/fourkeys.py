"""The four keys of software delivery (DORA), computed from one stack's deployment records.

Definitions, as Google's Four Keys project implements them (github.com/dora-team/fourkeys,
README "Key metrics definitions" and "Color coding"; DORA's guide: dora.dev/guides/
dora-metrics-four-keys):

- deployment frequency: successful deployments per period (here: records `verified`, per day
  and per week), and its band: daily / weekly / monthly / yearly;
- lead time for changes: the median time from a commit to its deployment succeeding (here:
  the commit time stored in the record at deploy time → the record's verified time), and p90;
- change failure rate: failed deployments over all deployments (failed = verify failed,
  deploy failed, rolled back, canary aborted);
- time to restore: per failure, the time from the deployment that failed to the next version
  that verified in the stack (median).

Each figure says how many records it rests on; with fewer than `min_samples` it is None and
`too_few` says why, instead of a number that means nothing. Pure functions: records in,
figures out (tests/automation/test_fourkeys.py checks hand-written records with known answers).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from .records import DeploymentRecord
from .status import RecordKind, RecordStatus

DAY = 86_400.0
WEEK = 7 * DAY
FAILED = frozenset(
    {
        RecordStatus.VERIFY_FAILED,
        RecordStatus.DEPLOY_FAILED,
        RecordStatus.ROLLED_BACK,
        RecordStatus.CANARY_ABORTED,
    }
)
#: Deployments that count: finished ones. In progress and interrupted ones never decided
#: whether the change works, so they are neither successes nor failures.
COUNTED = FAILED | {RecordStatus.VERIFIED, RecordStatus.DEPLOYED, RecordStatus.BLOCKED}
#: fourkeys' color coding (README): [green, yellow) limits; beyond the last is red.
LEAD_TIME_BANDS = ((WEEK, "less than one week"), (30 * DAY, "one week to one month"))
RESTORE_BANDS = ((DAY, "less than one day"), (WEEK, "less than one week"))
FAILURE_RATE_BANDS = ((0.15, "0-15 %"), (0.45, "16-45 %"))
DEFAULT_MIN_SAMPLES = 3
P90_MIN_SAMPLES = 5


@dataclass
class Figure:
    """One figure, the count behind it, and its band (or why there is no number)."""

    value: float | None
    count: int
    band: str = ""
    too_few: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class FourKeys:
    stack: str
    since: float
    until: float
    deploys: int
    deployment_frequency: Figure
    lead_time_s: Figure
    change_failure_rate: Figure
    time_to_restore_s: Figure
    weeks: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The q-quantile by nearest rank (no interpolation: a value that occurred)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def band(value: float, bands: Sequence[tuple[float, str]], beyond: str) -> str:
    for limit, name in bands:
        if value < limit:
            return name
    return beyond


def _deploys(records: Iterable[DeploymentRecord], since: float, until: float) -> list:
    return sorted(
        (
            r
            for r in records
            if r.kind == RecordKind.DEPLOY and r.status in COUNTED and since <= r.started_at < until
        ),
        key=lambda r: r.started_at,
    )


def _done(record: DeploymentRecord) -> float:
    return record.finished_at or record.started_at


def _week_of(ts: float) -> str:
    year, week, _ = datetime.fromtimestamp(ts, tz=UTC).isocalendar()
    return f"{year}-W{week:02d}"


def _weeks_between(since: float, until: float) -> list[str]:
    weeks, ts = [], since
    while ts < until:
        label = _week_of(ts)
        if label not in weeks:
            weeks.append(label)
        ts += DAY
    return weeks


def frequency_band(successes: Sequence[DeploymentRecord], since: float, until: float) -> str:
    """fourkeys' buckets: daily (the median week has deployments on 3+ days), weekly (the
    median week has one), monthly (at least one per 30 days on average), else yearly."""
    days_per_week = {week: set() for week in _weeks_between(since, until)}
    for record in successes:
        day = datetime.fromtimestamp(_done(record), tz=UTC).date()
        days_per_week.setdefault(_week_of(_done(record)), set()).add(day)
    median_days = statistics.median(len(d) for d in days_per_week.values()) if days_per_week else 0
    if median_days >= 3:
        return "daily"
    if median_days >= 1:
        return "weekly"
    if len(successes) >= (until - since) / (30 * DAY):
        return "monthly"
    return "yearly"


def _too_few(count: int, need: int, what: str) -> str:
    return f"too few {what} ({count}; a figure needs {need})" if count < need else ""


def four_keys(
    records: Sequence[DeploymentRecord],
    *,
    stack: str,
    since: float,
    until: float | None = None,
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> FourKeys:
    """The four keys of `stack` over [since, until) from its records (all kinds, all ages:
    a restore may come from a rollback record; only deployments started in the window count)."""
    until = time.time() if until is None else until
    deploys = _deploys(records, since, until)
    successes = [r for r in deploys if r.status == RecordStatus.VERIFIED]
    failures = [r for r in deploys if r.status in FAILED]
    days = max((until - since) / DAY, 1e-9)

    few = _too_few(len(deploys), min_samples, "deployments")
    frequency = Figure(
        value=None if few else len(successes) / days,
        count=len(successes),
        band="" if few else frequency_band(successes, since, until),
        too_few=few,
        extra={} if few else {"per_week": len(successes) / days * 7, "days": round(days, 2)},
    )

    leads = [_done(r) - r.commit_time for r in successes if r.commit_time]
    few = _too_few(len(leads), min_samples, "verified deployments with a commit time")
    lead = Figure(None, len(leads), too_few=few)
    if not few:
        lead.value = statistics.median(leads)
        lead.band = band(lead.value, LEAD_TIME_BANDS, "more than one month")
        p90_few = _too_few(len(leads), max(min_samples, P90_MIN_SAMPLES), "for p90")
        lead.extra = {"p90": None if p90_few else nearest_rank(leads, 0.9), "p90_too_few": p90_few}

    few = _too_few(len(deploys), min_samples, "deployments")
    rate = Figure(None if few else len(failures) / len(deploys), len(deploys), too_few=few)
    rate.extra = {"failures": len(failures)}
    if not few:
        rate.band = band(rate.value or 0.0, FAILURE_RATE_BANDS, "more than 45 %")

    restores, unrestored = [], 0
    verified_after = sorted((r for r in records if r.status == RecordStatus.VERIFIED), key=_done)
    for failure in failures:
        fixed = next((r for r in verified_after if _done(r) > _done(failure)), None)
        if fixed is None:
            unrestored += 1
        else:
            restores.append(_done(fixed) - failure.started_at)
    few = _too_few(len(restores), min_samples, "restored failures")
    restore = Figure(None, len(restores), too_few=few, extra={"unrestored": unrestored})
    if not few:
        restore.value = statistics.median(restores)
        restore.band = band(restore.value, RESTORE_BANDS, "more than one week")

    return FourKeys(
        stack=stack,
        since=since,
        until=until,
        deploys=len(deploys),
        deployment_frequency=frequency,
        lead_time_s=lead,
        change_failure_rate=rate,
        time_to_restore_s=restore,
        weeks=weekly_trend(deploys, since, until),
    )


def weekly_trend(
    deploys: Sequence[DeploymentRecord], since: float, until: float
) -> list[dict[str, Any]]:
    """Per ISO week of the window: deployments, successes, failures, failure rate, median lead."""
    weeks: dict[str, dict[str, Any]] = {
        w: {"week": w, "deploys": 0, "succeeded": 0, "failed": 0, "leads": []}
        for w in _weeks_between(since, until)
    }
    for record in deploys:
        week = weeks.setdefault(
            _week_of(record.started_at),
            {
                "week": _week_of(record.started_at),
                "deploys": 0,
                "succeeded": 0,
                "failed": 0,
                "leads": [],
            },
        )
        week["deploys"] += 1
        if record.status == RecordStatus.VERIFIED:
            week["succeeded"] += 1
            if record.commit_time:
                week["leads"].append(_done(record) - record.commit_time)
        elif record.status in FAILED:
            week["failed"] += 1
    trend = []
    for week in weeks.values():
        leads = week.pop("leads")
        week["failure_rate"] = week["failed"] / week["deploys"] if week["deploys"] else None
        week["lead_time_s"] = statistics.median(leads) if leads else None
        trend.append(week)
    return trend
