"""The canary judge: does the new version behave worse than the old one on the same traffic?

Kayenta's semantics (spinnaker/kayenta `MannWhitneyClassifier`, `WeightedSumScorer`,
`ThresholdScoreClassifier`), our own code:

* per metric, the canary's samples are compared with the baseline's by a one-sided Mann-Whitney
  U test in the direction that is bad (`increase` for latency and error rates), and the
  difference must also exceed the metric's allowed effect size before it counts: a significant
  but tiny difference (2 ms on 400 ms) is a Pass, as in Kayenta (its `effectSizeThresholds`);
* a metric is High or Low (in a bad direction), Pass, or NoData (too few samples on either side);
* a critical metric that is High or Low fails the run on its own (Kayenta's `criticalFailures`),
  and a critical metric without data makes it inconclusive;
* the score is the weighted share of Pass among the metrics with data (NoData counts neither
  way); too little data (half the metrics or more NoData, Kayenta's `NODATA_THRESHOLD`) is
  *inconclusive*, never a pass; the score decides pass / marginal / fail by two thresholds.

Where we differ from Kayenta, and why: Kayenta tests the Hodges-Lehmann confidence interval
against a tolerance proportional to the estimate; we use the U test's p-value at `alpha` plus a
named, documented effect size per metric, which is what the stack config exposes and what
benchmarks/bench_canary.py tunes (docs/canary.md has the measured false-alarm and detection
rates behind the defaults).

Effect units (`MetricSpec.effect_size`, `MetricResult.effect`):
* latency metrics: relative, Kayenta's mean ratio (canary mean / baseline mean - 1); 0.10
  means "10 % slower". (The Hodges-Lehmann shift over the baseline median was tried first: on
  a per-window percentile that falls between two endpoints' modes, P75 or P90 of a mix of
  health checks, emails and photos, it jumped by +-200 % between identical versions.)
* rate metrics (`error_rate_*`, samples in percent 0..100): absolute percentage points, canary
  mean minus baseline mean; 0.5 means "half a percent more requests fail".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from scipy.stats import mannwhitneyu

from components.config.rules_canary import CANARY_METRICS

MetricName = Literal[
    "error_rate_5xx", "error_rate_4xx", "latency_p50", "latency_p75", "latency_p90", "latency_p99"
]
#: One list of the judge's metrics: the `canary` config's (its effect sizes are keyed by them).
METRIC_NAMES: tuple[str, ...] = CANARY_METRICS
Direction = Literal["increase", "decrease", "either"]
Classification = Literal["Pass", "High", "Low", "NoData"]
Decision = Literal["pass", "marginal", "fail", "inconclusive"]

#: Kayenta's WeightedSumScorer.NODATA_THRESHOLD: this share of metrics (percent) without data
#: or more makes the run inconclusive.
NODATA_THRESHOLD_PERCENT = 50.0
# The defaults, chosen from benchmarks/bench_canary.py (docs/canary.md, "How the thresholds
# were chosen").
DEFAULT_ALPHA = 0.01
DEFAULT_MIN_SAMPLES = 12
DEFAULT_MIN_REQUESTS = 2500
DEFAULT_MAX_REQUEST_RATIO = 1.25
#: The samples key holding each sample's request count (automation/canary/samples.py adds it);
#: not a metric: the judge reads it to check there is enough, and comparable, data.
REQUESTS = "request_count"
DEFAULT_EFFECT_SIZES: dict[str, float] = {
    "error_rate_5xx": 0.1,
    "error_rate_4xx": 2.0,
    "latency_p50": 0.25,
    "latency_p75": 0.75,
    "latency_p90": 0.50,
    "latency_p99": 0.20,
}


def is_rate(name: str) -> bool:
    """Rates (percent) have absolute effects; everything else (latency) relative ones."""
    return name.startswith("error_rate")


@dataclass(frozen=True)
class MetricSpec:
    """One metric the judge compares, and what counts as worse."""

    name: str
    direction: Direction
    """Which direction is bad: `increase` (latency, errors), `decrease`, or `either`."""
    effect_size: float
    """Allowed effect before a significant difference counts: relative for latency (0.10 =
    10 %), absolute percentage points for rates (0.5 = 0.5 pp)."""
    critical: bool = False
    """A High (or Low, in a bad direction) on a critical metric fails the run on its own."""
    weight: float = 1.0


@dataclass(frozen=True)
class JudgeConfig:
    """The metrics, their effects and weights, the score thresholds and the test's settings."""

    metrics: tuple[MetricSpec, ...]
    pass_score: float = 95.0
    marginal_score: float = 75.0
    min_samples: int = DEFAULT_MIN_SAMPLES
    """Per version per metric; fewer -> NoData."""
    alpha: float = DEFAULT_ALPHA
    """Significance level of each one-sided test (`either`: alpha/2 per side)."""
    min_requests: int = DEFAULT_MIN_REQUESTS
    """Requests per version over the evaluation (the `request_count` samples); fewer -> every
    metric NoData: a canary that served 200 requests cannot show a 5 % error rate on one
    endpoint, and must not pass for it (docs/canary.md measures the power behind it)."""
    max_request_ratio: float = DEFAULT_MAX_REQUEST_RATIO
    """Per-window request counts of the two versions (median) may differ by this factor at most,
    else the latency metrics are NoData: a P99 of 5 requests is their maximum, a P99 of 50 is
    not, so percentiles over unequal counts differ with no regression at all (docs/canary.md).
    EB's canary set is as large as the old one, so only NewVersionPercent near 50 keeps it."""

    @classmethod
    def default(cls) -> JudgeConfig:
        """5xx (critical), 4xx, latency P50/P75/P90/P99; increases are bad."""
        return cls(
            metrics=tuple(
                MetricSpec(
                    name,
                    "increase",
                    DEFAULT_EFFECT_SIZES[name],
                    critical=name == "error_rate_5xx",
                )
                for name in METRIC_NAMES
            )
        )

    def with_effect_sizes(self, effect_sizes: Mapping[str, float]) -> JudgeConfig:
        """This config with some metrics' allowed effects replaced (unknown names ignored)."""
        return replace(
            self,
            metrics=tuple(
                replace(m, effect_size=effect_sizes.get(m.name, m.effect_size))
                for m in self.metrics
            ),
        )


@dataclass(frozen=True)
class MetricResult:
    """One metric's comparison: what the report and canary.json show."""

    name: str
    classification: Classification
    p_value: float | None
    """The one-sided test's p-value in the bad direction (`either`: the smaller side, doubled)."""
    effect: float | None
    """In the metric's effect unit (see the module docstring)."""
    baseline: dict[str, Any]
    """Summary: n, mean, median, p10, p90, min, max."""
    canary: dict[str, Any]
    critical: bool
    weight: float
    direction: Direction = "increase"
    effect_size: float = 0.0
    reason: str = ""
    baseline_samples: tuple[float, ...] = field(default=(), repr=False)
    canary_samples: tuple[float, ...] = field(default=(), repr=False)

    @property
    def samples(self) -> dict[str, list[float]]:
        """Both sides' samples (for charts): {"baseline": [...], "canary": [...]}."""
        return {"baseline": list(self.baseline_samples), "canary": list(self.canary_samples)}

    @property
    def bad(self) -> bool:
        return self.classification in ("High", "Low")

    def to_json(self, *, samples: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "classification": self.classification,
            "p_value": self.p_value,
            "effect": self.effect,
            "effect_unit": "pp" if is_rate(self.name) else "relative",
            "effect_size": self.effect_size,
            "direction": self.direction,
            "critical": self.critical,
            "weight": self.weight,
            "reason": self.reason,
            "baseline": self.baseline,
            "canary": self.canary,
        }
        if samples:
            data["samples"] = self.samples
        return data


@dataclass(frozen=True)
class Verdict:
    """The run's outcome: what the pipeline acts on and the record names."""

    decision: Decision
    score: float | None
    reason: str
    """One line a human reads in the record and `history`."""
    metrics: tuple[MetricResult, ...]

    def to_json(self, *, samples: bool = True) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "score": self.score,
            "reason": self.reason,
            "metrics": [m.to_json(samples=samples) for m in self.metrics],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verdict:
        """Read back what `to_json` wrote (canary.json), e.g. to render a report later."""
        return cls(
            decision=data["decision"],
            score=data["score"],
            reason=data["reason"],
            metrics=tuple(
                MetricResult(
                    name=m["name"],
                    classification=m["classification"],
                    p_value=m["p_value"],
                    effect=m["effect"],
                    baseline=dict(m["baseline"]),
                    canary=dict(m["canary"]),
                    critical=m["critical"],
                    weight=m["weight"],
                    direction=m.get("direction", "increase"),
                    effect_size=m.get("effect_size", 0.0),
                    reason=m.get("reason", ""),
                    baseline_samples=tuple(m.get("samples", {}).get("baseline", ())),
                    canary_samples=tuple(m.get("samples", {}).get("canary", ())),
                )
                for m in data["metrics"]
            ),
        )


def _clean(values: Sequence[float] | None) -> np.ndarray:
    array = np.asarray(list(values or ()), dtype=float)
    return array[np.isfinite(array)]


def summary(values: np.ndarray) -> dict[str, Any]:
    """What the report prints of one side's samples."""
    if values.size == 0:
        return {"n": 0}
    p10, median, p90 = np.percentile(values, [10, 50, 90])
    return {
        "n": int(values.size),
        "mean": float(values.mean()),
        "median": float(median),
        "p10": float(p10),
        "p90": float(p90),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def effect(name: str, canary: np.ndarray, baseline: np.ndarray) -> float:
    """The metric's effect in its unit: pp for rates, Kayenta's mean ratio - 1 for latency."""
    if is_rate(name):
        return float(canary.mean() - baseline.mean())
    scale = float(baseline.mean())
    return float(canary.mean()) / scale - 1.0 if scale > 0 else 0.0


def _p_value(canary: np.ndarray, baseline: np.ndarray, alternative: str) -> float:
    result = mannwhitneyu(canary, baseline, alternative=alternative, method="asymptotic")
    p = float(result.pvalue)
    return 1.0 if math.isnan(p) else p


def classify(spec: MetricSpec, baseline: np.ndarray, canary: np.ndarray, config: JudgeConfig):
    """One metric's MetricResult (samples are cleaned arrays)."""
    common = {
        "name": spec.name,
        "baseline": summary(baseline),
        "canary": summary(canary),
        "critical": spec.critical,
        "weight": spec.weight,
        "direction": spec.direction,
        "effect_size": spec.effect_size,
        "baseline_samples": tuple(float(v) for v in baseline),
        "canary_samples": tuple(float(v) for v in canary),
    }
    if min(baseline.size, canary.size) < config.min_samples:
        return MetricResult(
            classification="NoData",
            p_value=None,
            effect=None,
            reason=(
                f"{baseline.size} baseline and {canary.size} canary samples "
                f"(at least {config.min_samples} each needed)"
            ),
            **common,
        )
    size = effect(spec.name, canary, baseline)
    if np.unique(np.concatenate([baseline, canary])).size == 1:
        # Kayenta: a single value on both sides is a Pass (the U test has nothing to rank).
        return MetricResult(
            classification="Pass", p_value=1.0, effect=size, reason="identical", **common
        )
    sides = {"increase": ("greater",), "decrease": ("less",), "either": ("greater", "less")}
    p_by_side = {side: _p_value(canary, baseline, side) for side in sides[spec.direction]}
    level = config.alpha / len(p_by_side)
    label: Classification = "Pass"
    if "greater" in p_by_side and p_by_side["greater"] < level and size > spec.effect_size:
        label = "High"
    elif "less" in p_by_side and p_by_side["less"] < level and size < -spec.effect_size:
        label = "Low"
    p_value = min(1.0, min(p_by_side.values()) * len(p_by_side))
    unit = "pp" if is_rate(spec.name) else "%"
    shown = size if is_rate(spec.name) else size * 100
    allowed = spec.effect_size if is_rate(spec.name) else spec.effect_size * 100
    reason = f"{spec.name} {label}: {shown:+.2f} {unit} (allowed {allowed:.2f}), p={p_value:.2g}"
    return MetricResult(classification=label, p_value=p_value, effect=size, reason=reason, **common)


def _score(results: Sequence[MetricResult]) -> float | None:
    with_data = [r for r in results if r.classification != "NoData"]
    total = sum(r.weight for r in with_data)
    if not with_data or total <= 0:
        return None
    passed = sum(r.weight for r in with_data if r.classification == "Pass")
    return round(100.0 * passed / total, 2)


def decide(results: Sequence[MetricResult], config: JudgeConfig) -> Verdict:
    """Kayenta's scorer and score classifier over the metric results."""
    metrics = tuple(results)
    critical_bad = [r for r in metrics if r.critical and r.bad]
    if critical_bad:
        first = critical_bad[0]
        return Verdict("fail", 0.0, f"critical metric {first.reason}", metrics)
    no_data = [r for r in metrics if r.classification == "NoData"]
    critical_missing = [r for r in no_data if r.critical]
    if critical_missing:
        first = critical_missing[0]
        return Verdict(
            "inconclusive", None, f"no data for critical {first.name}: {first.reason}", metrics
        )
    if not metrics or 100.0 * len(no_data) / len(metrics) >= NODATA_THRESHOLD_PERCENT:
        return Verdict(
            "inconclusive",
            None,
            f"{len(no_data)} of {len(metrics)} metrics without enough data"
            + (f" ({no_data[0].reason})" if no_data else ""),
            metrics,
        )
    score = _score(metrics)
    if score is None:
        return Verdict("inconclusive", None, "no metric has data", metrics)
    bad = [r for r in metrics if r.bad]
    detail = "; ".join(r.reason for r in bad) if bad else "every metric with data passed"
    if score >= config.pass_score:
        decision: Decision = "pass"
    elif score >= config.marginal_score:
        decision = "marginal"
    else:
        decision = "fail"
    return Verdict(decision, score, f"score {score:g} ({decision}): {detail}", metrics)


def judge(
    baseline: Mapping[str, Sequence[float]],
    canary: Mapping[str, Sequence[float]],
    config: JudgeConfig,
) -> Verdict:
    """Compare the canary's samples with the baseline's, metric by metric, and decide.

    `baseline` / `canary` map a metric name to its samples (one per instance per window, see
    automation/canary/samples.py); a metric missing from either is NoData.
    """
    blocked = data_problems(baseline, canary, config)
    results = []
    for spec in config.metrics:
        result = classify(
            spec, _clean(baseline.get(spec.name)), _clean(canary.get(spec.name)), config
        )
        why = blocked.get("latency") if not is_rate(spec.name) else None
        if blocked.get("all") and result.classification == "Pass":
            # Too little traffic cannot pass a metric; clear evidence against it still counts.
            why = blocked["all"]
        if why:
            result = replace(result, classification="NoData", p_value=None, reason=why)
        results.append(result)
    return decide(results, config)


def data_problems(
    baseline: Mapping[str, Sequence[float]],
    canary: Mapping[str, Sequence[float]],
    config: JudgeConfig,
) -> dict[str, str]:
    """Why some metrics cannot be judged at all, from the samples' request counts.

    {"all": reason} when a version served too few requests (no metric may pass on it);
    {"latency": reason} when the two
    versions' per-window request counts differ too much for their percentiles to compare.
    Without `request_count` samples (a caller with no counts) nothing is blocked.
    """
    counts_b, counts_c = _clean(baseline.get(REQUESTS)), _clean(canary.get(REQUESTS))
    if counts_b.size == 0 or counts_c.size == 0:
        return {}
    total_b, total_c = float(counts_b.sum()), float(counts_c.sum())
    if min(total_b, total_c) < config.min_requests:
        return {
            "all": (
                f"too little traffic: baseline {total_b:.0f} and canary {total_c:.0f} requests "
                f"(at least {config.min_requests} each needed)"
            )
        }
    ratio = float(np.median(counts_c) / np.median(counts_b))
    if not 1 / config.max_request_ratio <= ratio <= config.max_request_ratio:
        return {
            "latency": (
                f"per-window requests not comparable: canary {np.median(counts_c):.1f} vs "
                f"baseline {np.median(counts_b):.1f} (ratio {ratio:.2f}, allowed "
                f"1/{config.max_request_ratio:g}..{config.max_request_ratio:g}: "
                "NewVersionPercent near 50)"
            )
        }
    return {}
