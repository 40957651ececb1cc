"""Canary analysis (issue 22): the judge, its samples from EB's health API, its config from
the stack's `canary` key, and its report section. docs/canary.md explains the statistics and
how the defaults were measured (benchmarks/bench_canary.py)."""

from __future__ import annotations

from automation.canary.judge import (
    METRIC_NAMES,
    JudgeConfig,
    MetricName,
    MetricResult,
    MetricSpec,
    Verdict,
    judge,
)
from automation.canary.samples import Samples, samples_from_health
from automation.canary.settings import judge_config

__all__ = [
    "METRIC_NAMES",
    "JudgeConfig",
    "MetricName",
    "MetricResult",
    "MetricSpec",
    "Samples",
    "Verdict",
    "judge",
    "judge_config",
    "samples_from_health",
]
