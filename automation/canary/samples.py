"""Turn Elastic Beanstalk's per-instance health into the judge's samples, per version.

`DescribeInstancesHealth` (AttributeNames `ApplicationMetrics`, `Deployment`) answers, per
instance, the last 10-second window: `RequestCount`, `StatusCodes` (integer percentages of the
window's requests), `Latency` P10..P999 in seconds, and which `Deployment.VersionLabel` the
instance runs. Polling it once per window gives one sample per instance per window; this
module is the pure part (no boto3 here): the caller polls (AWS or the sandbox, same client code)
and passes the responses in, in the order they were received.

Rules:
* an instance running neither label (still deploying, or a third version) is ignored;
* a window with no requests gives no sample at all (no latency exists, and a 0 % error rate
  of zero requests is not evidence of health);
* the same window seen twice (two polls within one refresh: same `RefreshedAt` and instance)
  counts once;
* every sample carries its request count (`request_count`): the judge checks there is enough
  traffic, and comparable traffic per window, before it compares percentiles;
* optionally (`pool_requests`, off by default), consecutive windows of one instance are pooled
  until they hold that many requests; rates pool exactly (request-weighted), latency
  percentiles only approximately (request-weighted mean), and benchmarks/bench_canary.py
  measured that approximation to raise A/A false alarms (docs/canary.md), hence off.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from automation.canary.judge import REQUESTS

#: EB Latency field -> judge metric; values are converted from seconds to milliseconds.
LATENCY_FIELDS = {
    "P50": "latency_p50",
    "P75": "latency_p75",
    "P90": "latency_p90",
    "P99": "latency_p99",
}
RATE_FIELDS = {"Status5xx": "error_rate_5xx", "Status4xx": "error_rate_4xx"}
#: Default pooling target (requests per sample): off, see the module docstring.
DEFAULT_POOL_REQUESTS = 0


class Samples(NamedTuple):
    """Per-version sample maps, as `judge(baseline, canary, config)` takes them."""

    baseline: dict[str, list[float]]
    canary: dict[str, list[float]]


@dataclass
class Window:
    """One instance's application metrics over one window (or several, pooled)."""

    version: str
    instance: str
    requests: float
    rates: dict[str, float] = field(default_factory=dict)
    """Metric name -> percent of the window's requests."""
    latency_ms: dict[str, float] = field(default_factory=dict)
    """Metric name -> milliseconds."""

    def pooled(self, other: Window) -> Window:
        """This window and a later one of the same instance as one (request-weighted)."""
        total = self.requests + other.requests

        def mix(mine: dict[str, float], theirs: dict[str, float]) -> dict[str, float]:
            keys = mine.keys() & theirs.keys()
            return {k: (mine[k] * self.requests + theirs[k] * other.requests) / total for k in keys}

        return Window(
            self.version,
            self.instance,
            total,
            mix(self.rates, other.rates),
            mix(self.latency_ms, other.latency_ms),
        )


def window_from_health(item: Mapping[str, Any]) -> Window | None:
    """One `InstanceHealthList` item as a Window (None when it carries no requests or label)."""
    metrics = item.get("ApplicationMetrics") or {}
    label = (item.get("Deployment") or {}).get("VersionLabel")
    requests = float(metrics.get("RequestCount") or 0)
    if not label or requests <= 0:
        return None
    codes = metrics.get("StatusCodes") or {}
    latency = metrics.get("Latency") or {}
    return Window(
        version=label,
        instance=str(item.get("InstanceId", "")),
        requests=requests,
        rates={name: float(codes[key]) for key, name in RATE_FIELDS.items() if key in codes},
        latency_ms={
            name: float(latency[key]) * 1000.0
            for key, name in LATENCY_FIELDS.items()
            if latency.get(key) is not None
        },
    )


def windows_from_responses(responses: Iterable[Mapping[str, Any]]) -> list[Window]:
    """Every distinct window with requests, in the order received."""
    seen: set[tuple[str, str]] = set()
    windows = []
    for response in responses:
        refreshed = response.get("RefreshedAt")
        for item in response.get("InstanceHealthList") or ():
            if refreshed is not None:
                key = (str(item.get("InstanceId")), str(refreshed))
                if key in seen:
                    continue
                seen.add(key)
            window = window_from_health(item)
            if window is not None:
                windows.append(window)
    return windows


def pool(windows: Iterable[Window], pool_requests: float) -> list[Window]:
    """Consecutive windows of each instance pooled until each holds `pool_requests` requests.

    A trailing bucket still short of the target is kept only when it holds at least half of
    it (an almost empty last bucket would be the noisiest sample of all).
    """
    if pool_requests <= 1:
        return list(windows)
    open_buckets: dict[tuple[str, str], Window] = {}
    done: list[Window] = []
    for window in windows:
        key = (window.version, window.instance)
        bucket = open_buckets.pop(key, None)
        bucket = window if bucket is None else bucket.pooled(window)
        if bucket.requests >= pool_requests:
            done.append(bucket)
        else:
            open_buckets[key] = bucket
    done += [b for b in open_buckets.values() if b.requests >= pool_requests / 2]
    return done


def samples_from_windows(
    windows: Iterable[Window],
    baseline_label: str,
    canary_label: str,
    *,
    pool_requests: float = DEFAULT_POOL_REQUESTS,
) -> Samples:
    """Per-version sample maps from windows (see `pool` for `pool_requests`)."""
    out = Samples({}, {})
    for window in pool(windows, pool_requests):
        if window.version == baseline_label:
            target = out.baseline
        elif window.version == canary_label:
            target = out.canary
        else:
            continue
        target.setdefault(REQUESTS, []).append(window.requests)
        for name, value in (*window.rates.items(), *window.latency_ms.items()):
            target.setdefault(name, []).append(value)
    return out


def samples_from_health(
    responses: Sequence[Mapping[str, Any]],
    baseline_label: str,
    canary_label: str,
    *,
    pool_requests: float = DEFAULT_POOL_REQUESTS,
) -> Samples:
    """DescribeInstancesHealth responses (boto3 shape, in the order received) -> Samples."""
    return samples_from_windows(
        windows_from_responses(responses),
        baseline_label,
        canary_label,
        pool_requests=pool_requests,
    )
