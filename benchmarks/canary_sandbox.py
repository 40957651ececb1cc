"""End-to-end canary runs on the sandbox prod stack, for benchmarks/bench_canary.py.

    .venv/bin/python benchmarks/canary_sandbox.py [--runs 2] [--time-scale 20] [--json]

Each run deploys a variant of the app with the real pipeline (`up`, canary on, TrafficSplitting,
synthetic Locust traffic, the judge on EB's health API of the stack's moto) and records the
judge's decision, whether it aborted, and the time from the split's start to the decision.
Variants: an identical version (A/A: a `fail` or `marginal` is a false alarm), 5 % email 5xx,
and every response +100 ms (both: an abort is a detection). `bench_canary.py` calls
`sandbox_runs()` (its hook for the end-to-end part) and prints the rates beside its simulated
ones; run alone it prints them itself. A temporary state root, torn down at the end.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a script: the repository root goes on sys.path first, so our packages import.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.bundle import build_bundle  # noqa: E402
from automation.wiring import build_pipeline, verifier  # noqa: E402
from sandbox.app_variants import build_variant, email_errors, slower  # noqa: E402

STACK = "prod"


def identical(source: Path) -> None:
    """A new label, nothing else changed (a comment with a random tag)."""
    init = source / "passport_app" / "__init__.py"
    init.write_text(init.read_text() + f"\n# A/A run {random.random()}\n")  # noqa: S311


def _with_tag(edit: Callable[[Path], None]) -> Callable[[Path], None]:
    def tagged(source: Path) -> None:
        edit(source)
        identical(source)

    return tagged


VARIANTS: dict[str, Callable[[Path], None]] = {
    "identical": identical,
    "email 5xx 5%": _with_tag(email_errors(20)),
    "latency +100 ms": _with_tag(slower(100)),
}


def _pipeline(root: Path, time_scale: float) -> Any:
    pipeline = build_pipeline(
        STACK, "sandbox", state_root=root, report_root=root / "reports", time_scale=time_scale
    )
    pipeline.checks = lambda: []
    pipeline.verifier = verifier(only=["health"], engine=pipeline.engine)
    return pipeline


def sandbox_runs(runs: int = 2, time_scale: float = 20.0) -> list[dict[str, Any]]:
    """`runs` canary deploys of each variant; one dict per deploy."""
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-canary-") as tmp:
        root = Path(tmp)
        first = _pipeline(root, time_scale)
        first.deploy(build_bundle(model="u2netp").path)
        try:
            for n in range(runs):
                for name, edit in VARIANTS.items():
                    pipeline = _pipeline(root, time_scale)
                    bundle = build_variant(root / f"{name.replace(' ', '_')}-{n}", edit)
                    started = time.monotonic()
                    result = pipeline.deploy(bundle)
                    outcome = pipeline.canary_outcome
                    decided = outcome.decided_after_s if outcome else None
                    split = outcome.split_started_s if outcome else None
                    results.append(
                        {
                            "variant": name,
                            "decision": outcome.decision if outcome else None,
                            "aborted": bool(outcome and outcome.aborted),
                            "exit": int(result.exit_code),
                            "decision_after_split_s": (
                                round(decided - split, 1) if decided and split else None
                            ),
                            "wall_s": round(time.monotonic() - started, 1),
                            "reason": outcome.verdict.reason if outcome and outcome.verdict else "",
                        }
                    )
                    print(json.dumps(results[-1]), file=sys.stderr, flush=True)
        finally:
            first.engine.destroy()
    return results


def rates(results: list[dict[str, Any]]) -> dict[str, Any]:
    """False alarms on the identical runs, detections on the faulty ones, time to decision."""
    out: dict[str, Any] = {}
    for name in VARIANTS:
        rows = [r for r in results if r["variant"] == name]
        stopped = sum(1 for r in rows if r["aborted"] or r["decision"] in ("fail", "marginal"))
        times = [r["decision_after_split_s"] for r in rows if r["decision_after_split_s"]]
        out[name] = {
            "runs": len(rows),
            ("false_alarms" if name == "identical" else "detected"): stopped,
            "median_decision_s": sorted(times)[len(times) // 2] if times else None,
        }
    return out


def e2e_rows(args: Any, row: Callable[..., Any], window_s: float) -> list[Any]:
    """bench_canary.py's hook: `--sandbox-runs N` canary deploys per variant, as its Rows.

    "windows to decide" is in EB's time (the decision's delay after the split began, times the
    time scale, in 10-second windows), so it reads beside the simulated rows.
    """
    runs = int(getattr(args, "sandbox_runs", 0) or 0)
    if runs <= 0:
        return []
    scale = float(getattr(args, "sandbox_time_scale", 20.0))
    started = time.monotonic()
    results = sandbox_runs(runs, scale)
    rows = []
    for name in VARIANTS:
        mine = [r for r in results if r["variant"] == name]
        decisions: dict[str, int] = {}
        for r in mine:
            decisions[str(r["decision"])] = decisions.get(str(r["decision"]), 0) + 1
        windows = sorted(
            r["decision_after_split_s"] * scale / window_s
            for r in mine
            if r["decision_after_split_s"]
        ) or [0.0]
        rows.append(
            row(
                f"sandbox: {name}",
                len(mine),
                sum(1 for r in mine if r["decision"] != "pass") / max(1, len(mine)),
                decisions,
                windows[len(windows) // 2],
                windows[min(len(windows) - 1, int(0.9 * len(windows)))],
                time.monotonic() - started,
            )
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--time-scale", type=float, default=20.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = sandbox_runs(args.runs, args.time_scale)
    summary = rates(results)
    if args.json:
        print(json.dumps({"runs": results, "rates": summary}, indent=2))
    else:
        for name, row in summary.items():
            print(f"{name:18} {row}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
