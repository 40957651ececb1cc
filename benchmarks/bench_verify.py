"""Wall time of a verify run beside the sum of its checks' own durations.

    .venv/bin/python benchmarks/bench_verify.py [--stack dev] [--concurrency 4] [--sequential]

Needs a running sandbox stack (`python -m sandbox up --stack dev`) or `--outputs FILE` with
AWS credentials. The ratio sum/wall is what the bounded pool buys; `--sequential` adds a
concurrency-1 run for comparison.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

# Run as a script: the repository root goes on sys.path first, so our packages import.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verify import run  # noqa: E402
from verify.model import Report  # noqa: E402
from verify.outputs import OutputsError, load_file, load_sandbox  # noqa: E402
from verify.progress import configure  # noqa: E402


def table(label: str, report: Report) -> None:
    print(
        f"\n{label}: wall {report.wall_s:.2f}s, checks sum {report.checks_sum_s:.2f}s, "
        f"ratio {report.checks_sum_s / report.wall_s:.2f}×, "
        f"{'PASSED' if report.passed else 'FAILED'}"
    )
    slowest = max(report.results, key=lambda r: r.duration_s)
    print(
        f"  slowest check: {slowest.name} {slowest.duration_s:.2f}s "
        f"(wall − slowest − readiness = overhead of the rest)"
    )
    for r in report.results:
        print(f"  {r.name:<12} {r.status.value:<8} {r.duration_s:7.2f}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--stack", default="dev")
    source.add_argument("--outputs", type=Path)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--sequential", action="store_true", help="also run with concurrency 1")
    parser.add_argument("--verbose", action="store_true", help="show progress lines")
    parser.add_argument("--state-root", type=Path, help="sandbox state folder (default .sandbox)")
    args = parser.parse_args()
    try:
        if args.outputs:
            outputs = load_file(args.outputs)
        else:
            outputs, env = load_sandbox(args.stack, args.state_root)
            os.environ.update(env)
    except OutputsError as exc:
        print(f"bench_verify: {exc}", file=sys.stderr)
        return 2
    configure(quiet=not args.verbose)
    runs = [(f"concurrency {args.concurrency}", args.concurrency)]
    if args.sequential:
        runs.append(("concurrency 1", 1))
    for label, concurrency in runs:
        with tempfile.TemporaryDirectory() as tmp:
            table(label, run(outputs, concurrency=concurrency, report_dir=tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
