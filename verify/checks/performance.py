"""performance: latency percentiles and error rate, sequential and under concurrency.

No retries here: a request that needs one is an error the budget must see. Budget from the
stack (`latency_budget_ms`, a p95 bound), applied to each endpoint and mode separately.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from verify.context import Check, CheckContext
from verify.http import HttpClient
from verify.images import first, load_manifest
from verify.model import CheckFailed, Outcome, Problems

WHERE = (
    "instance size / count and gunicorn workers (components/ EB settings, app Procfile); "
    "the stack's latencyBudgetMs"
)
#: endpoint → (sequential requests, concurrent requests, concurrent clients). Photo concurrency
#: matches one in-flight inference per gunicorn worker of a 2-vCPU instance (app/gunicorn.conf.py):
#: more would measure queueing on a single instance rather than the service's latency.
PLAN = {
    "health": (10, 24, 4),
    "photo": (3, 4, 2),
}


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: p95 of 20 samples is the 19th)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(latencies_ms: list[float], errors: list[str], total: int) -> dict[str, Any]:
    return {
        "requests": total,
        "errors": len(errors),
        "error_rate": round(len(errors) / total, 4) if total else 0.0,
        "p50_ms": round(percentile(latencies_ms, 50), 1) if latencies_ms else None,
        "p95_ms": round(percentile(latencies_ms, 95), 1) if latencies_ms else None,
        "max_ms": round(max(latencies_ms), 1) if latencies_ms else None,
        "first_errors": errors[:3],
    }


def _one(client: HttpClient, kind: str, photo: bytes) -> tuple[float, str | None]:
    started = time.perf_counter()
    try:
        if kind == "health":
            resp = client.get("/health", retry=False)
        else:
            resp = client.post(
                "/api/v1/photos",
                files={"image": ("p.jpg", photo)},
                data={"format": "us"},
                retry=False,
                timeout_s=60.0,
            )
        elapsed = (time.perf_counter() - started) * 1000
        error = None if resp.status_code == 200 else f"HTTP {resp.status_code}"
        return elapsed, error
    except (CheckFailed, requests.RequestException) as exc:
        return (time.perf_counter() - started) * 1000, str(exc)


def measure(ctx: CheckContext, kind: str, photo: bytes, count: int, workers: int) -> dict:
    clients = ctx.http_per_thread()
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda _: _one(clients.get(), kind, photo), range(count)))
    finally:
        clients.close()
    ok = [ms for ms, err in results if err is None]
    errors = [err for _, err in results if err is not None]
    return {**summarize(ok, errors, count), "workers": workers}


def run(ctx: CheckContext) -> Outcome:
    budget = ctx.outputs["latency_budget_ms"]
    portrait = first(load_manifest(ctx.images_dir), "portrait")
    photo = portrait.read() if portrait else b""
    problems = Problems()
    details: dict[str, Any] = {"budget_ms": budget}
    for kind, (sequential, concurrent, clients) in PLAN.items():
        for mode, count, workers in (
            ("sequential", sequential, 1),
            ("concurrent", concurrent, clients),
        ):
            stats = measure(ctx, kind, photo, count, workers)
            details[f"{kind}_{mode}"] = stats
            label = f"{kind} {mode} ({count} requests, {workers} client(s))"
            problems.expect(
                stats["errors"] == 0,
                f"{label} errors",
                "none",
                f"{stats['errors']} ({'; '.join(stats['first_errors'])})",
                WHERE,
            )
            p95 = stats["p95_ms"]
            if p95 is not None:
                problems.expect(
                    p95 <= budget, f"{label} p95", f"≤ {budget} ms", f"{p95:.0f} ms", WHERE
                )
    problems.raise_if_any(details)
    worst = max(v["p95_ms"] or 0 for k, v in details.items() if isinstance(v, dict))
    return Outcome(f"no errors; worst p95 {worst:.0f} ms within the {budget} ms budget", details)


CHECK = Check(
    name="performance",
    run=run,
    description="sequential + concurrent health and photo requests: p50/p95, error rate",
    requires=("api_url", "latency_budget_ms"),
    timeout_s=180.0,
    exclusive=True,  # measured alone: the ml/api checks' uploads would inflate the latencies
)
