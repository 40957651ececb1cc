"""The canary judge's false-alarm rate and its power, measured on simulated traffic.

    .venv/bin/python benchmarks/bench_canary.py [--runs 400] [--seed 22] [--smoke]
        [--rps 3] [--percent 10] [--instances 2] [--minutes 10] [--look-every 6]

Each run simulates one TrafficSplitting evaluation request by request and goes through the same
code as a real canary: per instance per 10-second window the EB application metrics
(`RequestCount`, integer `StatusCodes` percentages, latency P50/P75/P90/P99), then
automation/canary/samples.py (pooling) and automation/canary/judge.py. The judge looks every
`--look-every` windows and aborts on `fail` (what the pipeline does in flight); at the end of the
evaluation its decision is final.

* A/A (both versions identical): any outcome but `pass` is a false alarm.
* Faults on the canary only: latency +25 % on the photo endpoint, +100 ms on the email endpoint,
  1 % and 5 % of email requests answered 500. Detection = the canary does not pass.

Traffic model (docs/canary.md): the Locust plan's mix (health 6 : email 2 : photo 1), lognormal
latencies per endpoint (health ~4 ms, email ~35 ms, photo ~1.4 s: one photo is 1.3 CPU-s on a
2-vCPU instance, docs/capacity.md), a little background 4xx/5xx on both versions, Poisson
arrivals split `--percent` / 100 - `--percent` between two sets of `--instances` instances, plus
the load balancer's /health check on every instance every 10 s. Goal (issue 22): at most 5 %
false alarms, at least 95 % detection of the +100 ms and the 5 % faults.

End-to-end sandbox runs plug in through `END_TO_END` (see `end_to_end_rows`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

# Run as a script: the repository root goes on sys.path first, so our packages import.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import canary_sandbox  # noqa: E402  (benchmarks/, this script's own folder)

from automation.canary.judge import JudgeConfig, Verdict, judge  # noqa: E402
from automation.canary.samples import (  # noqa: E402
    DEFAULT_POOL_REQUESTS,
    Window,
    samples_from_windows,
)

WINDOW_S = 10
QUANTILES = {
    "latency_p50": 0.50,
    "latency_p75": 0.75,
    "latency_p90": 0.90,
    "latency_p99": 0.99,
}


@dataclass(frozen=True)
class Endpoint:
    name: str
    weight: float
    """Share of user requests (the Locust plan's task weights)."""
    median_ms: float
    sigma: float
    """Lognormal shape: the spread of this endpoint's latency."""
    rate_4xx: float
    rate_5xx: float


ENDPOINTS = (
    Endpoint("health", 6, 4.0, 0.5, 0.0, 0.0002),
    Endpoint("email", 2, 35.0, 0.4, 0.04, 0.0005),
    Endpoint("photo", 1, 1400.0, 0.35, 0.08, 0.001),
)
HEALTH = 0  # the load balancer's health check hits endpoint 0


@dataclass(frozen=True)
class Fault:
    """What the canary does worse (None in A/A), on one endpoint."""

    name: str
    endpoint: str = ""
    latency_factor: float = 1.0
    latency_add_ms: float = 0.0
    extra_5xx: float = 0.0


FAULTS = (
    Fault("A/A (no fault)"),
    Fault("latency +25 % photo", "photo", latency_factor=1.25),
    Fault("latency +100 ms email", "email", latency_add_ms=100.0),
    Fault("5xx 1 % email", "email", extra_5xx=0.01),
    Fault("5xx 5 % email", "email", extra_5xx=0.05),
)


@dataclass(frozen=True)
class Scenario:
    rps: float = 10.0
    """User requests per second reaching the environment (both versions together)."""
    percent: int = 50
    """NewVersionPercent."""
    instances: int = 2
    """Instances per version (EB's canary set is as large as the old one)."""
    minutes: int = 10
    """EvaluationTime."""
    look_every: int = 6
    """Windows between two looks of the judge (6 = once a minute)."""
    pool_requests: float = DEFAULT_POOL_REQUESTS
    instance_sigma: float = 0.05
    """Per-instance latency factor (lognormal): instances are never identical (host, AZ,
    neighbours), so one version's windows are not independent draws."""

    @property
    def windows(self) -> int:
        return self.minutes * 60 // WINDOW_S


def _group_quantile(values: np.ndarray, groups: np.ndarray, count: int, q: float) -> np.ndarray:
    """numpy.percentile (linear) of `values` within each group 0..count-1 (all non-empty)."""
    order = np.lexsort((values, groups))
    ordered = values[order]
    sizes = np.bincount(groups, minlength=count)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pos = q * (sizes - 1)
    low = np.floor(pos).astype(int)
    high = np.ceil(pos).astype(int)
    a, b = ordered[starts + low], ordered[starts + high]
    return a + (pos - low) * (b - a)


def simulate(rng: np.random.Generator, scenario: Scenario, fault: Fault | None) -> list[Window]:
    """Every instance's windows of one evaluation, in time order (window-major)."""
    weights = np.array([e.weight for e in ENDPOINTS], dtype=float)
    weights /= weights.sum()
    versions = ("baseline", "canary")
    share = {"baseline": 1 - scenario.percent / 100, "canary": scenario.percent / 100}
    slots = [
        (w, v, i)
        for w in range(scenario.windows)
        for v in versions
        for i in range(scenario.instances)
    ]
    per_instance_rate = np.array(
        [share[v] * scenario.rps / scenario.instances * WINDOW_S for _, v, _ in slots]
    )
    users = rng.poisson(per_instance_rate)
    counts = users + 1  # + the load balancer's health check
    group = np.repeat(np.arange(len(slots)), counts)
    is_canary = np.repeat(np.array([v == "canary" for _, v, _ in slots]), counts)
    endpoint = rng.choice(len(ENDPOINTS), size=group.size, p=weights)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    endpoint[first] = HEALTH
    median = np.array([e.median_ms for e in ENDPOINTS])[endpoint]
    sigma = np.array([e.sigma for e in ENDPOINTS])[endpoint]
    instance_factor = np.exp(scenario.instance_sigma * rng.standard_normal(len(slots)))
    # the same factor for one instance in every window
    per_instance = instance_factor[: 2 * scenario.instances]
    slot_factor = np.tile(per_instance, scenario.windows)
    latency = median * np.exp(sigma * rng.standard_normal(group.size)) * slot_factor[group]
    p5xx = np.array([e.rate_5xx for e in ENDPOINTS])[endpoint]
    p4xx = np.array([e.rate_4xx for e in ENDPOINTS])[endpoint]
    if fault is not None and fault.endpoint:
        index = [e.name for e in ENDPOINTS].index(fault.endpoint)
        hit = is_canary & (endpoint == index)
        latency = np.where(hit, latency * fault.latency_factor + fault.latency_add_ms, latency)
        p5xx = np.where(hit, p5xx + fault.extra_5xx, p5xx)
    draw = rng.random(group.size)
    is_5xx = draw < p5xx
    is_4xx = ~is_5xx & (draw < p5xx + p4xx)
    n = len(slots)
    # EB reports integer percentages of the window's requests.
    pct_5xx = np.rint(100 * np.bincount(group, is_5xx, n) / counts)
    pct_4xx = np.rint(100 * np.bincount(group, is_4xx, n) / counts)
    lat = {name: _group_quantile(latency, group, n, q) for name, q in QUANTILES.items()}
    return [
        Window(
            version=v,
            instance=f"{v}-{i}",
            requests=float(counts[k]),
            rates={"error_rate_5xx": float(pct_5xx[k]), "error_rate_4xx": float(pct_4xx[k])},
            latency_ms={name: float(values[k]) for name, values in lat.items()},
        )
        for k, (_, v, i) in enumerate(slots)
    ]


@dataclass(frozen=True)
class Outcome:
    decision: str
    """The run's outcome: `fail` at a look aborts; else the final verdict's decision."""
    windows: int
    """Windows elapsed when it was decided (an abort, or the end of the evaluation)."""
    verdict: Verdict


def evaluate(windows: list[Window], scenario: Scenario, config: JudgeConfig) -> Outcome:
    """The in-flight policy: look every `look_every` windows, abort on fail, final at the end."""
    per_window = 2 * scenario.instances
    verdict = None
    for elapsed in range(scenario.look_every, scenario.windows + 1, scenario.look_every):
        seen = windows[: elapsed * per_window]
        samples = samples_from_windows(
            seen, "baseline", "canary", pool_requests=scenario.pool_requests
        )
        verdict = judge(samples.baseline, samples.canary, config)
        if verdict.decision == "fail":
            return Outcome("fail", elapsed, verdict)
    if verdict is None or scenario.windows % scenario.look_every:
        samples = samples_from_windows(
            windows, "baseline", "canary", pool_requests=scenario.pool_requests
        )
        verdict = judge(samples.baseline, samples.canary, config)
    return Outcome(verdict.decision, scenario.windows, verdict)


@dataclass(frozen=True)
class Row:
    """One line of the benchmark's table."""

    label: str
    runs: int
    not_pass: float
    """Share of runs that did not pass: false alarms (A/A) or detections (a fault)."""
    decisions: dict[str, int]
    median_windows: float
    p90_windows: float
    seconds: float


def measure(scenario: Scenario, fault: Fault, runs: int, seed: int, config: JudgeConfig) -> Row:
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    outcomes = [
        evaluate(simulate(rng, scenario, fault if fault.endpoint else None), scenario, config)
        for _ in range(runs)
    ]
    decisions: dict[str, int] = {}
    for o in outcomes:
        decisions[o.decision] = decisions.get(o.decision, 0) + 1
    flagged = [o.windows for o in outcomes if o.decision != "pass"] or [scenario.windows]
    return Row(
        fault.name,
        runs,
        sum(o.decision != "pass" for o in outcomes) / runs,
        decisions,
        float(np.median(flagged)),
        float(np.percentile(flagged, 90)),
        time.perf_counter() - started,
    )


#: End-to-end sandbox runs (issue 22): each function takes the parsed arguments and returns rows
#: measured on a real sandbox stack (a canary deploy per run, the verdict read from canary.json).
#: The pipeline side registers them here; the simulated rows need none of it.
END_TO_END: list[Callable[[argparse.Namespace], list[Row]]] = []


# The pipeline side's end-to-end runs (benchmarks/canary_sandbox.py), with `--sandbox-runs N`.
END_TO_END.append(lambda args: canary_sandbox.e2e_rows(args, Row, WINDOW_S))


def end_to_end_rows(args: argparse.Namespace) -> list[Row]:
    """Rows of every registered end-to-end measurement (none registered: none)."""
    return [row for measure_e2e in END_TO_END for row in measure_e2e(args)]


def print_rows(title: str, rows: list[Row], scenario: Scenario) -> None:
    print(f"\n{title}")
    print(
        f"  {'case':<24} {'runs':>5} {'not pass':>9}  {'decisions':<40} "
        f"{'windows to decide (median / p90)':>33}"
    )
    for row in rows:
        decisions = ", ".join(f"{k} {v}" for k, v in sorted(row.decisions.items()))
        minutes = row.median_windows * WINDOW_S / 60
        print(
            f"  {row.label:<24} {row.runs:>5} {100 * row.not_pass:>8.1f}%  {decisions:<40} "
            f"{row.median_windows:>6.0f} / {row.p90_windows:<4.0f} ({minutes:.1f} min)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400, help="simulated evaluations per case")
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--rps", type=float, default=Scenario.rps)
    parser.add_argument("--percent", type=int, default=Scenario.percent)
    parser.add_argument("--instances", type=int, default=Scenario.instances)
    parser.add_argument("--minutes", type=int, default=Scenario.minutes)
    parser.add_argument("--look-every", type=int, default=Scenario.look_every)
    parser.add_argument("--pool-requests", type=float, default=Scenario.pool_requests)
    parser.add_argument("--alpha", type=float, help="override the judge's alpha")
    parser.add_argument(
        "--effect",
        action="append",
        default=[],
        metavar="METRIC=SIZE",
        help="override one metric's allowed effect (repeatable), e.g. latency_p99=0.2",
    )
    parser.add_argument("--smoke", action="store_true", help="a few runs of a short window")
    parser.add_argument(
        "--sandbox-runs",
        type=int,
        default=0,
        help="also N end-to-end canary deploys per variant on the sandbox prod stack",
    )
    parser.add_argument("--sandbox-time-scale", type=float, default=20.0)
    args = parser.parse_args(argv)
    scenario = Scenario(
        args.rps, args.percent, args.instances, args.minutes, args.look_every, args.pool_requests
    )
    runs = args.runs
    if args.smoke:
        scenario, runs = replace(scenario, minutes=3), 3
    config = JudgeConfig.default()
    if args.alpha is not None:
        config = replace(config, alpha=args.alpha)
    if args.effect:
        pairs = (item.split("=", 1) for item in args.effect)
        config = config.with_effect_sizes({name: float(size) for name, size in pairs})
    print(
        f"canary judge, simulated: {scenario.rps:g} req/s, {scenario.percent} % to the canary, "
        f"{scenario.instances}+{scenario.instances} instances, {scenario.minutes} min "
        f"({scenario.windows} windows of {WINDOW_S} s), a look every {scenario.look_every} "
        f"windows, samples pooled to >= {scenario.pool_requests:g} requests; "
        f"alpha {config.alpha:g}, min_samples {config.min_samples}, effect sizes "
        + ", ".join(f"{m.name} {m.effect_size:g}" for m in config.metrics)
    )
    rows = [measure(scenario, fault, runs, args.seed + k, config) for k, fault in enumerate(FAULTS)]
    print_rows("simulated (not pass = false alarm for A/A, detection for a fault)", rows, scenario)
    e2e = end_to_end_rows(args)
    if e2e:
        print_rows("end-to-end sandbox runs", e2e, scenario)
    print(f"\nsimulation time: {sum(r.seconds for r in rows):.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
