"""benchmarks/bench_capacity.py runs (CPU cost, served throughput, 40-Mpx memory) and prints."""

from __future__ import annotations

import re

import pytest

from tests.support.benchmarks import run_bench

pytestmark = pytest.mark.slow


def test_a_smoke_run_prints_the_floor_throughput_and_worker_memory() -> None:
    out = run_bench(
        "bench_capacity.py", "--seconds", "2", "--clients", "1", "--big", "1", "--skip-ungated"
    )
    assert re.search(r"one photo at 1 thread: [\d.]+ CPU-s → floor [\d.]+ photos/s", out), out
    assert "served (gated" in out, out
    assert re.search(r"worst worker \d+ MB = [\d.]+ × the \d+ MB goal", out), out
