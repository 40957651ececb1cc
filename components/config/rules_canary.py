"""Rules of the canary deployment: how much traffic the new version takes, for how long, what
the judge (automation/canary/) allows, and what keeps the canary honest.

`canary` is one structured key (a map, or its JSON text from the Pulumi CLI). Every field is
checked here, before anything is touched, and a problem names the field (`canary.<field>`) and
what is allowed. The judge's own defaults (effect sizes per metric, alpha) live with the judge;
this map holds only what the stack overrides.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping
from typing import Any

from components.config.model import CanaryConfig
from components.config.schema import Context, rule, show

#: The judge's metrics (automation/canary/judge.py METRIC_NAMES; a test ties the two).
CANARY_METRICS = (
    "error_rate_5xx",
    "error_rate_4xx",
    "latency_p50",
    "latency_p75",
    "latency_p90",
    "latency_p99",
)
CANARY_FIELDS = (
    "enabled",
    "newVersionPercent",
    "evaluationMinutes",
    "bakeMinutes",
    "syntheticLoad",
    "effectSizes",
    "scores",
)
#: EB's aws:elasticbeanstalk:trafficsplitting NewVersionPercent and EvaluationTime ranges.
NEW_VERSION_PERCENT_RANGE = (1, 100)
EVALUATION_MINUTES_RANGE = (3, 600)
BAKE_MINUTES_RANGE = (0, 1440)
#: While the judge runs: per-instance requests of the two versions within a factor 1.25
#: (automation/canary/judge.py DEFAULT_MAX_REQUEST_RATIO): p / (100 - p) in 0.8..1.25.
JUDGED_PERCENT_RANGE = (45, 55)
#: Rates are in percentage points (0..100), latency effects relative (0..10 = up to +1000 %).
RATE_EFFECT_RANGE = (0.0, 100.0)
LATENCY_EFFECT_RANGE = (0.0, 10.0)
EFFECT_SIZES_ALLOWED = (
    "a map of " + ", ".join(CANARY_METRICS) + " to a number: error_rate_* in percentage points "
    f"{RATE_EFFECT_RANGE[0]:g}..{RATE_EFFECT_RANGE[1]:g}, latency_* relative "
    f"{LATENCY_EFFECT_RANGE[0]:g}..{LATENCY_EFFECT_RANGE[1]:g} (0.1 = 10 % slower)"
)
SCORES_ALLOWED = "a map {pass, marginal} of numbers with 0 <= marginal <= pass <= 100"
CANARY_ALLOWED = "a map of " + ", ".join(CANARY_FIELDS)

Issue = tuple[str, str, str]


def _int(value: Any, bounds: tuple[int, int]) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        return None
    return number if bounds[0] <= number <= bounds[1] else None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _number(value: Any, bounds: tuple[float, float]) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and bounds[0] <= number <= bounds[1] else None


def _effect_sizes(raw: Any, issues: list[Issue]) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        issues.append(("canary.effectSizes", show(raw), EFFECT_SIZES_ALLOWED))
        return {}
    sizes = {}
    for metric, value in raw.items():
        where = f"canary.effectSizes.{metric}"
        if metric not in CANARY_METRICS:
            issues.append((where, show(value), EFFECT_SIZES_ALLOWED))
            continue
        rate = str(metric).startswith("error_rate")
        number = _number(value, RATE_EFFECT_RANGE if rate else LATENCY_EFFECT_RANGE)
        if number is None:
            issues.append((where, show(value), EFFECT_SIZES_ALLOWED))
        else:
            sizes[str(metric)] = number
    return sizes


def _scores(raw: Any, issues: list[Issue]) -> tuple[float, float] | None:
    default = CanaryConfig()
    if not isinstance(raw, Mapping) or set(raw) - {"pass", "marginal"}:
        issues.append(("canary.scores", show(raw), SCORES_ALLOWED))
        return None
    passing = _number(raw.get("pass", default.pass_score), (0.0, 100.0))
    marginal = _number(raw.get("marginal", default.marginal_score), (0.0, 100.0))
    if passing is None or marginal is None or marginal > passing:
        issues.append(("canary.scores", show(dict(raw)), SCORES_ALLOWED))
        return None
    return passing, marginal


def parse_canary(raw: Any) -> tuple[CanaryConfig | None, list[Issue]]:
    """`canary` (a map, or its JSON text from the Pulumi CLI) -> (CanaryConfig, issues)."""
    if raw is None:
        return CanaryConfig(), []
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            raw = json.loads(raw)
    if not isinstance(raw, Mapping):
        return None, [("canary", show(raw), CANARY_ALLOWED)]
    issues: list[Issue] = []
    values: dict[str, Any] = {}
    for name, value in raw.items():
        where = f"canary.{name}"
        if name in ("enabled", "syntheticLoad"):
            flag = _bool(value)
            if flag is None:
                issues.append((where, show(value), "true or false"))
            values["enabled" if name == "enabled" else "synthetic_load"] = flag
        elif name in ("newVersionPercent", "evaluationMinutes", "bakeMinutes"):
            bounds = {
                "newVersionPercent": NEW_VERSION_PERCENT_RANGE,
                "evaluationMinutes": EVALUATION_MINUTES_RANGE,
                "bakeMinutes": BAKE_MINUTES_RANGE,
            }[name]
            number = _int(value, bounds)
            if number is None:
                issues.append((where, show(value), f"an integer from {bounds[0]} to {bounds[1]}"))
            field = {
                "newVersionPercent": "new_version_percent",
                "evaluationMinutes": "evaluation_minutes",
                "bakeMinutes": "bake_minutes",
            }[name]
            values[field] = number
        elif name == "effectSizes":
            values["effect_sizes"] = _effect_sizes(value, issues)
        elif name == "scores":
            scores = _scores(value, issues)
            if scores is not None:
                values["pass_score"], values["marginal_score"] = scores
        else:
            issues.append((where, show(value), "one of " + ", ".join(CANARY_FIELDS)))
    if issues:
        return None, issues
    canary = CanaryConfig(**{k: v for k, v in values.items() if v is not None})
    low, high = JUDGED_PERCENT_RANGE
    if canary.enabled and not low <= canary.new_version_percent <= high:
        issues.append(
            (
                "canary.newVersionPercent",
                show(canary.new_version_percent),
                f"an integer from {low} to {high} while canary.enabled (the canary set is as "
                "large as the old one, so only a near-even split gives both the same requests "
                "per instance, which the judge's percentiles need: docs/canary.md)",
            )
        )
        return None, issues
    return canary, issues


@rule("deploymentPolicy", "canary")
def canary_needs_traffic_splitting(ctx: Context) -> None:
    """The judge compares two versions serving at once: only TrafficSplitting has both."""
    canary, policy = ctx.values.get("canary"), ctx.values.get("deploymentPolicy")
    if canary is not None and canary.enabled and policy not in (None, "TrafficSplitting"):
        ctx.add(
            ("canary", "deploymentPolicy"),
            f"canary.enabled=true, deploymentPolicy={policy}",
            "deploymentPolicy TrafficSplitting while canary.enabled (only a traffic split "
            "serves the old and the new version side by side for the judge)",
        )


RULES = (canary_needs_traffic_splitting,)
