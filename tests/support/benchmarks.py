"""Running a benchmark script as `make bench` does, for its smoke test: it must run and print
its figures (what the figures are is the benchmark's business, not a test's)."""

from __future__ import annotations

import subprocess
import sys

from common.paths import ROOT


def run_bench(script: str, *args: str, timeout: float = 600) -> str:
    """`python benchmarks/<script> <args>` from the repository root; its stdout, exit 0 asserted."""
    done = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{done.stderr[-4000:]}"
    return done.stdout
