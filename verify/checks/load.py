"""load: a real load test with Locust, judged against the stack's thresholds per endpoint.

Not in the default set (it takes minutes and loads the stack on purpose): `--only load`, or by
default in `python -m automation run` for stacks whose `loadTest.runInPipeline` is true.

Locust runs as a subprocess (`python -m locust --headless`) on verify/locustfile.py: its gevent
monkey-patching must not touch verify's own threads, and the same file is what users run by
hand or distributed (master/worker). The phases (warm-up, ramp-up, sustained, peak, cool-down)
and users come from the `load_test` output; the CSV it writes gives p95/p99/error rate/rps per
endpoint (health, email, photo), compared with `load_test.thresholds`; its HTML report (with the
response-time and requests/s charts) and two SVG charts of ours go into `<report-dir>/load/`.
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from verify.context import Check, CheckContext
from verify.model import CheckFailed, Outcome, Problems

LOCUSTFILE = Path(__file__).resolve().parent.parent / "locustfile.py"
ENDPOINTS = ("health", "email", "photo")
DEFAULT_PLAN = {
    "peakUsers": 6,
    "durationS": 60,
    "thresholds": {
        "health": {"p95Ms": 1000, "p99Ms": 2000, "maxErrorRate": 0.01},
        "email": {"p95Ms": 2000, "p99Ms": 5000, "maxErrorRate": 0.01},
        "photo": {"p95Ms": 6000, "p99Ms": 10000, "maxErrorRate": 0.01},
    },
}
WHERE = (
    "the instance count/type and autoscaling (minInstances, instanceType, components/"
    "eb_settings.py), gunicorn workers/threads (app/gunicorn.conf.py), back-pressure "
    "(app/passport_app/capacity.py); thresholds: the stack's loadTest.thresholds; the Locust "
    "report in <report-dir>/load/locust.html"
)


def plan_of(outputs: dict[str, Any]) -> dict[str, Any]:
    plan = {**DEFAULT_PLAN, **(outputs.get("load_test") or {})}
    plan["thresholds"] = {**DEFAULT_PLAN["thresholds"], **(plan.get("thresholds") or {})}
    return plan


def read_stats(path: Path) -> dict[str, dict[str, Any]]:
    """Locust's `<prefix>_stats.csv` → per endpoint: requests, failures, p50/p95/p99, rps."""
    stats: dict[str, dict[str, Any]] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            name = row["Name"]
            requests = int(row["Request Count"])
            failures = int(row["Failure Count"])

            def ms(col: str, row: dict[str, str] = row) -> float | None:
                value = row.get(col, "N/A")
                return None if value in ("N/A", "", None) else float(value)

            stats[name] = {
                "requests": requests,
                "failures": failures,
                "error_rate": round(failures / requests, 4) if requests else 0.0,
                "p50_ms": ms("50%"),
                "p95_ms": ms("95%"),
                "p99_ms": ms("99%"),
                "max_ms": ms("Max Response Time"),
                "rps": round(float(row["Requests/s"]), 3),
            }
    return stats


def read_failures(path: Path) -> list[str]:
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return [
            f"{row.get('Name')}: {row.get('Error')} ×{row.get('Occurrences')}"
            for row in csv.DictReader(handle)
        ][:5]


def judge(stats: dict[str, dict[str, Any]], thresholds: dict[str, dict[str, Any]]) -> Problems:
    problems = Problems()
    for endpoint in ENDPOINTS:
        limits = thresholds[endpoint]
        seen = stats.get(endpoint)
        if not seen or not seen["requests"]:
            problems.add(f"{endpoint}: expected requests during the load test, got none — {WHERE}")
            continue
        problems.expect(
            seen["error_rate"] <= limits["maxErrorRate"],
            f"{endpoint} error rate",
            f"≤ {limits['maxErrorRate']:.2%}",
            f"{seen['error_rate']:.2%} ({seen['failures']}/{seen['requests']})",
            WHERE,
        )
        for pct in ("p95", "p99"):
            value = seen[f"{pct}_ms"]
            limit = limits[f"{pct}Ms"]
            problems.expect(
                value is not None and value <= limit,
                f"{endpoint} {pct}",
                f"≤ {limit} ms",
                f"{value:.0f} ms" if value is not None else "no successful request",
                WHERE,
            )
    return problems


def history_charts(history_csv: Path, out_dir: Path) -> list[str]:
    """Two SVG line charts from Locust's stats history: latency percentiles and requests/s."""
    if not history_csv.is_file():
        return []
    rows = []
    with open(history_csv, newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("Name") == "Aggregated":
                rows.append(row)
    if len(rows) < 2:
        return []
    t0 = int(rows[0]["Timestamp"])
    xs = [int(r["Timestamp"]) - t0 for r in rows]

    def series(col: str) -> list[float]:
        return [float(r[col]) if r.get(col) not in (None, "", "N/A") else math.nan for r in rows]

    charts = [
        (
            "latency.svg",
            "response time (ms), all endpoints",
            {"p50": series("50%"), "p95": series("95%"), "p99": series("99%")},
        ),
        (
            "throughput.svg",
            "requests/s and failures/s",
            {"requests/s": series("Requests/s"), "failures/s": series("Failures/s")},
        ),
    ]
    written = []
    for name, title, lines in charts:
        (out_dir / name).write_text(svg_chart(title, xs, lines))
        written.append(name)
    return written


def svg_chart(title: str, xs: list[int], lines: dict[str, list[float]]) -> str:
    width, height, pad = 640, 260, 40
    finite = [v for vals in lines.values() for v in vals if not math.isnan(v)]
    top = max(finite, default=1.0) or 1.0
    right = max(xs) or 1
    colors = ("#0969da", "#bf8700", "#cf222e", "#1a7f37")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        f'<text x="{pad}" y="16" font-size="13">{title}</text>',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - 10}" y2="{height - pad}" '
        'stroke="#999"/>',
        f'<line x1="{pad}" y1="24" x2="{pad}" y2="{height - pad}" stroke="#999"/>',
        f'<text x="2" y="30">{top:.0f}</text><text x="{width - 40}" y="{height - pad + 14}">'
        f"{right}s</text>",
    ]
    for i, (label, vals) in enumerate(lines.items()):
        points = " ".join(
            f"{pad + (width - pad - 10) * x / right:.1f},"
            f"{height - pad - (height - pad - 24) * v / top:.1f}"
            for x, v in zip(xs, vals, strict=False)
            if not math.isnan(v)
        )
        color = colors[i % len(colors)]
        parts.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}"/>'
        )
        parts.append(
            f'<text x="{pad + 10 + 90 * i}" y="{height - 8}" fill="{color}">{label}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def locust_command(
    host: str,
    out_prefix: Path,
    *,
    peak_users: int,
    duration_s: float,
    html: Path | None = None,
    extra_env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
) -> tuple[list[str], dict[str, str]]:
    """(argv, env) of a headless Locust run of verify/locustfile.py against `host`.

    The one way the project starts Locust: this check, and the canary's synthetic traffic
    (automation/canary/traffic.py), which passes a steady shape and a shorter think time.
    """
    env = {
        **os.environ,
        "LOAD_PEAK_USERS": str(peak_users),
        "LOAD_DURATION_S": str(int(duration_s) if float(duration_s).is_integer() else duration_s),
        **(extra_env or {}),
    }
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        host,
        "--csv",
        str(out_prefix),
        "--csv-full-history",
        *(["--html", str(html)] if html is not None else []),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--stop-timeout",
        "10",
        "--exit-code-on-error",
        "0",
        *extra_args,
    ]
    return argv, env


def run_locust(
    ctx: CheckContext, plan: dict[str, Any], out_dir: Path
) -> subprocess.CompletedProcess:
    argv, env = locust_command(
        ctx.outputs["api_url"],
        out_dir / "locust",
        peak_users=plan["peakUsers"],
        duration_s=plan["durationS"],
        html=out_dir / "locust.html",
    )
    ctx.log(
        f"locust: {plan['peakUsers']} peak users over {plan['durationS']} s against "
        f"{ctx.outputs['api_url']}"
    )
    try:
        return subprocess.run(  # noqa: S603 - our own interpreter and arguments
            argv,
            env=env,
            capture_output=True,
            text=True,
            timeout=max(1.0, ctx.deadline.remaining() - 5),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed(
            f"the load test did not finish within the check's deadline ({exc.timeout:.0f} s); "
            "lower loadTest.durationS or raise --timeout"
        ) from exc


def run(ctx: CheckContext) -> Outcome:
    plan = plan_of(ctx.outputs)
    if ctx.report_dir is not None:
        out_dir = ctx.report_dir / "load"
        out_dir.mkdir(parents=True, exist_ok=True)
    else:
        out_dir = Path(tempfile.mkdtemp(prefix="verify-load-"))
    proc = run_locust(ctx, plan, out_dir)
    stats_csv = out_dir / "locust_stats.csv"
    if proc.returncode != 0 or not stats_csv.is_file():
        raise CheckFailed(
            f"locust exited {proc.returncode} without a stats file; stderr: "
            f"{(proc.stderr or '').strip()[-600:]}"
        )
    stats = read_stats(stats_csv)
    charts = history_charts(out_dir / "locust_stats_history.csv", out_dir)
    details: dict[str, Any] = {
        "plan": {"peak_users": plan["peakUsers"], "duration_s": plan["durationS"]},
        "phases": ["warm-up", "ramp-up", "sustained", "peak", "cool-down"],
        "thresholds": plan["thresholds"],
        **{endpoint: stats.get(endpoint) for endpoint in ENDPOINTS},
        # 503 busy answers (back-pressure) the users waited out and retried, per Retry-After.
        "photo_busy_answers": (stats.get("photo busy") or {}).get("requests", 0),
        "total": stats.get("Aggregated"),
        "first_failures": read_failures(out_dir / "locust_failures.csv"),
    }
    if ctx.report_dir is not None:
        details["links"] = {"Locust report (charts)": "load/locust.html"}
        details["charts"] = [f"load/{name}" for name in charts]
    problems = judge(stats, plan["thresholds"])
    problems.raise_if_any(details)
    summary = ", ".join(
        f"{e} p95 {stats[e]['p95_ms']:.0f} ms / p99 {stats[e]['p99_ms']:.0f} ms / "
        f"{stats[e]['error_rate']:.1%} err / {stats[e]['rps']:.2f} rps"
        for e in ENDPOINTS
    )
    return Outcome(f"{plan['peakUsers']} peak users, {plan['durationS']} s: {summary}", details)


def in_pipeline(outputs: dict[str, Any]) -> bool:
    """Does the stack ask for it in the pipeline's default set (`verify.select(pipeline=True)`)?"""
    return bool((outputs.get("load_test") or {}).get("runInPipeline"))


CHECK = Check(
    name="load",
    run=run,
    description="Locust load test (warm-up, ramp-up, sustained, peak, cool-down): p95/p99/"
    "error rate/rps per endpoint against the stack's thresholds",
    requires=("api_url",),
    timeout_s=3900.0,
    exclusive=True,
    opt_in=in_pipeline,
)
