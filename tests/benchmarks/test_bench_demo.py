"""benchmarks/bench_demo.py runs `make demo`'s pipeline and a rollback, and prints both times."""

from __future__ import annotations

import json

import pytest

from tests.support.benchmarks import run_bench

pytestmark = pytest.mark.slow


def test_a_run_prints_the_pipeline_and_the_rollback_with_their_stages() -> None:
    figures = json.loads(run_bench("bench_demo.py", "--json", "--smoke").strip().splitlines()[-1])
    pipeline, recovered = figures["pipeline"], figures["rollback_and_reverify"]
    assert list(pipeline["stages_s"]) == ["check", "preview", "up", "verify"]
    assert pipeline["total_s"] == pytest.approx(sum(pipeline["stages_s"].values()), abs=0.05)
    assert list(recovered["stages_s"]) == ["rollback", "verify-rollback"]
    assert recovered["total_s"] > 0
