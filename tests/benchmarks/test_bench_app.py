"""benchmarks/bench_app.py runs (in-process pipeline, the served bundle) and prints figures."""

from __future__ import annotations

import re

import pytest

from tests.support.benchmarks import run_bench

pytestmark = pytest.mark.slow


def test_a_smoke_run_prints_pipeline_latency_and_served_throughput() -> None:
    out = run_bench("bench_app.py", "--runs", "1", "--requests", "2")
    assert re.search(r"p50 +\d+ ms .* ratio +[\d.]+x", out), out
    for concurrency in (1, 4):
        assert re.search(rf"concurrency {concurrency}: +[\d.]+ req/s", out), out
