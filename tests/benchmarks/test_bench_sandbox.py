"""benchmarks/bench_sandbox.py runs (first, no-change and blue/green `up`, down) and prints."""

from __future__ import annotations

import json

import pytest

from tests.support.benchmarks import run_bench

pytestmark = pytest.mark.slow


def test_a_run_prints_the_wall_time_of_each_deployment() -> None:
    figures = json.loads(run_bench("bench_sandbox.py", "--json").strip().splitlines()[-1])
    assert set(figures["wall_s"]) == {
        "first up",
        "second up (no change)",
        "preview (changed bundle)",
        "up (changed bundle, blue/green)",
        "down",
    }
    assert all(seconds > 0 for seconds in figures["wall_s"].values())
