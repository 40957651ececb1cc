"""Wall time of sandbox deployments: first `up`, a no-change `up`, a changed-bundle `up`.

    .venv/bin/python benchmarks/bench_sandbox.py [--stack dev] [--json]

Runs in a temporary state root (never the user's .sandbox/) and tears the stack down at the
end. The first `up` includes starting moto and the app's first gunicorn boot (rembg import,
model load); the changed-bundle `up` is a full blue/green switch.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

# Run as a script: the repository root goes on sys.path first, so our packages import.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.app_variants import build_variant, new_version  # noqa: E402
from sandbox.engine import SandboxEngine  # noqa: E402


def timed(label: str, fn) -> tuple[str, float, object]:
    started = time.perf_counter()
    result = fn()
    return label, time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        changed = build_variant(Path(tmp) / "changed", new_version)
        engine = SandboxEngine(args.stack, state_root=Path(tmp) / "state")
        rows = []
        try:
            rows.append(timed("first up", engine.up))
            rows.append(timed("second up (no change)", engine.up))
            rows.append(timed("preview (changed bundle)", lambda: engine.preview(changed)))
            rows.append(timed("up (changed bundle, blue/green)", lambda: engine.up(changed)))
            healthy = [d["app"].get("healthy_after_s") for d in reversed(engine.history())]
        finally:
            rows.append(timed("down", engine.destroy))
    results = {label: round(seconds, 2) for label, seconds, _ in rows}
    if args.json:
        print(json.dumps({"stack": args.stack, "wall_s": results, "app_healthy_after_s": healthy}))
        return 0
    print(f"sandbox deployments of stack '{args.stack}' (wall time)")
    for label, seconds in results.items():
        print(f"  {label:<34} {seconds:7.2f}s")
    print(f"  app healthy after (per up)        {healthy}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
