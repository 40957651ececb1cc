"""Operator feedback time: `make demo`'s pipeline, and a failed verify's rollback + re-verify.

    .venv/bin/python benchmarks/bench_demo.py [--stack dev] [--json] [--smoke]

1. `python -m automation run --stack STACK --engine sandbox` on a fresh sandbox (what `make demo`
   runs after `make setup`), in a private state folder: the run's own duration and its stages
   (check → preview → up → verify), and the command's wall time (with interpreter start-up).
2. On that stack, a regression that deploys and then fails verification (every photo request
   fails): the pipeline rolls back to the verified version and verifies it again. Figure: the
   rollback stage plus the re-verify, i.e. the time from the failed verify to a proven
   previous version serving.

`--smoke` (the tests' run) verifies only readiness, health, api and ml: the same stages, less
work, figures not comparable with the goals.

Issue 23's goals: pipeline ≤ 20 s and rollback + re-verify ≤ 15 s. Seconds depend on the
machine and its load (the load average is printed); nothing here asserts them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Run as a script: the repository root goes on sys.path first, so our packages import.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from automation.wiring import build_pipeline  # noqa: E402
from common.paths import ROOT  # noqa: E402
from sandbox.app_variants import build_variant, photo_endpoint_fails  # noqa: E402
from sandbox.engine import SandboxEngine  # noqa: E402

GOAL_PIPELINE_S = 20.0
GOAL_RECOVERY_S = 15.0


#: The checks of `--smoke`: what a photo regression trips, without email and the performance wave.
SMOKE_CHECKS = ["readiness", "health", "api", "ml"]


def demo_run(stack: str, state_root: Path, reports: Path, only: list[str] | None) -> dict[str, Any]:
    """`make demo`'s pipeline command, as a user runs it; its JSON result and wall time."""
    began = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "automation", "run", "--stack", stack, "--engine", "sandbox",
         "--state-root", str(state_root), "--report-dir", str(reports), "--json",
         *(["--only", ",".join(only)] if only else [])],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "CI": "true"}, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"bench_demo: the demo run failed ({done.returncode}):\n{done.stderr}")
    payload = json.loads(done.stdout)
    return {"wall_s": round(wall, 2), **stage_figures(payload["stages"])}


def stage_figures(stages: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-stage seconds and the run's total (the `run` line is the whole)."""
    per_stage = {s["stage"]: s["duration_s"] for s in stages if s["stage"] != "run"}
    return {"stages_s": per_stage, "total_s": round(sum(per_stage.values()), 2)}


def recovery(
    stack: str, state_root: Path, reports: Path, work: Path, only: list[str] | None
) -> dict[str, Any]:
    """Deploy a regression; seconds from its failed verify to the previous version verified."""
    pipeline = build_pipeline(
        stack, "sandbox", state_root=state_root, report_root=reports, verify_only=only
    )
    broken = build_variant(work / "broken", photo_endpoint_fails)
    pipeline.bundle_builder = lambda: broken
    result = pipeline.run()
    if result.status != "rolled_back":
        raise SystemExit(f"bench_demo: expected a rollback, got {result.status}: {result.message}")
    stages = [s for s in result.stages if s["stage"] != "run"]
    failed = next(
        i for i, s in enumerate(stages) if s["stage"] == "verify" and s["status"] == "failed"
    )
    after = stages[failed + 1 :]
    return {
        "stages_s": {s["stage"]: s["duration_s"] for s in after},
        "total_s": round(sum(s["duration_s"] for s in after), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--smoke", action="store_true", help="verify only " + ",".join(SMOKE_CHECKS)
    )
    args = parser.parse_args()
    only = SMOKE_CHECKS if args.smoke else None
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        work = Path(tmp)
        state_root = work / "state"
        try:
            pipeline = demo_run(args.stack, state_root, work / "reports", only)
            recovered = recovery(args.stack, state_root, work / "reports", work, only)
        finally:
            SandboxEngine(args.stack, state_root=state_root).destroy()
    figures = {
        "stack": args.stack,
        "smoke": args.smoke,
        "load_average": round(load, 1),
        "pipeline": pipeline,
        "rollback_and_reverify": recovered,
    }
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"operator feedback on sandbox stack '{args.stack}' (load average {load:.1f})")
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in pipeline["stages_s"].items())
    print(
        f"  demo pipeline          {pipeline['total_s']:6.1f} s  ({stages}; command wall "
        f"{pipeline['wall_s']:.1f} s)  goal ≤ {GOAL_PIPELINE_S:.0f} s"
    )
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in recovered["stages_s"].items())
    print(
        f"  rollback + re-verify   {recovered['total_s']:6.1f} s  ({stages})  "
        f"goal ≤ {GOAL_RECOVERY_S:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
