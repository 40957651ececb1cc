"""benchmarks/bench_verify.py runs against a sandbox stack and prints wall time vs. checks sum."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.benchmarks import run_bench
from tests.support.sandbox_stacks import deploy

pytestmark = pytest.mark.slow


def test_a_run_prints_wall_sum_and_each_check(state_root: Path) -> None:
    deploy("dev", state_root)
    out = run_bench("bench_verify.py", "--stack", "dev", "--state-root", str(state_root))
    # passed or not is the machine's business here (the performance budget); the figures print
    assert re.search(r"concurrency 4: wall [\d.]+s, checks sum [\d.]+s, ratio [\d.]+×", out), out
    for check in ("readiness", "ml", "performance"):
        assert re.search(rf"^  {check} +\w+ +[\d.]+s$", out, re.M), (check, out)
