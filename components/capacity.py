"""Capacity rules of the stack config: does the model fit the instance, and the load test's plan.

Kept apart from components/config.py (which calls in here) so the numbers that come from
measurements (benchmarks/bench_capacity.py, docs/capacity.md) live in one place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

#: Resident memory of one gunicorn worker under load (8 concurrent 40-Mpx uploads, ORT arena
#: off, draft decoding, one inference at a time) with each model, measured by
#: benchmarks/bench_capacity.py, rounded up with headroom.
WORKER_MB = {"u2netp": 600, "u2net": 1100}
#: The OS, nginx, the EB agents and the CloudWatch agent on an Amazon Linux 2023 instance.
PLATFORM_MB = 512
#: (vCPUs, MiB) of instance types this project is sized for; gunicorn runs one worker per vCPU
#: (at least 2: app/gunicorn.conf.py). Unknown types are not judged.
INSTANCE_SPECS: dict[str, tuple[int, int]] = {
    "t3.micro": (2, 1024),
    "t3.small": (2, 2048),
    "t3.medium": (2, 4096),
    "t3.large": (2, 8192),
    "t3.xlarge": (4, 16384),
    "t3a.small": (2, 2048),
    "t3a.medium": (2, 4096),
    "t4g.small": (2, 2048),
    "t4g.medium": (2, 4096),
    "c5.large": (2, 4096),
    "c6i.large": (2, 4096),
    "c7i.large": (2, 4096),
    "c7i.xlarge": (4, 8192),
    "c7g.large": (2, 4096),
    "m7i.large": (2, 8192),
    "m7i.xlarge": (4, 16384),
}


def memory_needed_mb(instance_type: str, model: str) -> tuple[int, int] | None:
    """(needed, available) MiB for `model` on `instance_type`; None when the type is unknown."""
    spec = INSTANCE_SPECS.get(instance_type)
    if spec is None or model not in WORKER_MB:
        return None
    vcpus, memory = spec
    workers = max(2, min(vcpus, 4))  # app/gunicorn.conf.py
    return workers * WORKER_MB[model] + PLATFORM_MB, memory


def instance_fits(instance_type: str, model: str) -> str | None:
    """None when the model × workers fit the instance's memory, else why not."""
    sizes = memory_needed_mb(instance_type, model)
    if sizes is None:
        return None
    needed, available = sizes
    if needed <= available:
        return None
    bigger = sorted(
        (t for t, (_, mem) in INSTANCE_SPECS.items() if mem >= needed),
        key=lambda t: INSTANCE_SPECS[t][1],
    )
    return (
        f"{instance_type} has {available} MiB; {model} needs {needed} MiB "
        f"({WORKER_MB[model]} MiB per gunicorn worker + {PLATFORM_MB} MiB platform)"
        + (f"; e.g. {', '.join(bigger[:3])}" if bigger else "")
    )


#: Thresholds per endpoint (ms, ms, fraction). Health and email: the issue's starting point;
#: photo: derived from benchmarks/bench_capacity.py (one photo ≈ 1 CPU-s; at the load test's
#: peak a photo may wait for one in the worker's queue, so p95 ≈ 3 × service time, p99 with
#: room for a shared CI machine).
DEFAULT_THRESHOLDS = {
    "health": {"p95Ms": 1000, "p99Ms": 2000, "maxErrorRate": 0.01},
    "email": {"p95Ms": 2000, "p99Ms": 5000, "maxErrorRate": 0.01},
    "photo": {"p95Ms": 6000, "p99Ms": 10000, "maxErrorRate": 0.01},
}
DEFAULT_LOAD_TEST = {
    "runInPipeline": False,
    "peakUsers": 6,
    "durationS": 60,
    "thresholds": DEFAULT_THRESHOLDS,
}
LOAD_TEST_KEYS = ("runInPipeline", "peakUsers", "durationS", "thresholds")


def default_load_test() -> dict[str, Any]:
    return json.loads(json.dumps(DEFAULT_LOAD_TEST))


def parse_load_test(raw: Any) -> tuple[dict[str, Any] | None, list[tuple[str, str, str]]]:
    """`loadTest` (a map, or its JSON string from the Pulumi CLI) → (plan, issues)."""
    issues: list[tuple[str, str, str]] = []
    if raw is None:
        return default_load_test(), issues
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    if not isinstance(raw, Mapping):
        return None, [
            ("loadTest", json.dumps(raw, default=str), "a map of " + ", ".join(LOAD_TEST_KEYS))
        ]
    plan = default_load_test()
    for key, value in raw.items():
        if key not in LOAD_TEST_KEYS:
            issues.append(
                (f"loadTest.{key}", json.dumps(key), "one of " + ", ".join(LOAD_TEST_KEYS))
            )
        elif key == "runInPipeline":
            if not isinstance(value, bool) and str(value).lower() not in ("true", "false"):
                issues.append(("loadTest.runInPipeline", json.dumps(value), "true or false"))
            else:
                plan[key] = value if isinstance(value, bool) else str(value).lower() == "true"
        elif key in ("peakUsers", "durationS"):
            bounds = (1, 500) if key == "peakUsers" else (30, 3600)
            if not str(value).isdigit() or not bounds[0] <= int(value) <= bounds[1]:
                issues.append(
                    (
                        f"loadTest.{key}",
                        json.dumps(value),
                        f"an integer from {bounds[0]} to {bounds[1]}",
                    )
                )
            else:
                plan[key] = int(value)
        else:
            issues += _thresholds(value, plan["thresholds"])
    return plan, issues


def _thresholds(raw: Any, into: dict[str, Any]) -> list[tuple[str, str, str]]:
    issues = []
    if not isinstance(raw, Mapping):
        return [("loadTest.thresholds", json.dumps(raw, default=str), "a map per endpoint")]
    for endpoint, limits in raw.items():
        where = f"loadTest.thresholds.{endpoint}"
        if endpoint not in DEFAULT_THRESHOLDS or not isinstance(limits, Mapping):
            issues.append((where, json.dumps(limits, default=str), "health, email or photo: a map"))
            continue
        for name, value in limits.items():
            if name in ("p95Ms", "p99Ms") and str(value).isdigit() and 1 <= int(value) <= 600000:
                into[endpoint][name] = int(value)
            elif name == "maxErrorRate" and _fraction(value) is not None:
                into[endpoint][name] = _fraction(value)
            else:
                issues.append(
                    (
                        f"{where}.{name}",
                        json.dumps(value),
                        "p95Ms/p99Ms: 1..600000; maxErrorRate: 0..1",
                    )
                )
        if into[endpoint]["p95Ms"] > into[endpoint]["p99Ms"]:
            issues.append((where, json.dumps(dict(limits)), "p95Ms <= p99Ms"))
    return issues


def _fraction(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number <= 1 else None
