"""benchmarks/bench_canary.py runs and prints its figures (what they are is the benchmark's
business, docs/canary.md; here only that a smoke run works end to end)."""

from __future__ import annotations

from tests.support.benchmarks import run_bench

CASES = (
    "A/A (no fault)",
    "latency +25 % photo",
    "latency +100 ms email",
    "5xx 1 % email",
    "5xx 5 % email",
)


def test_the_smoke_run_prints_a_rate_and_a_time_to_decision_per_case() -> None:
    lines = run_bench("bench_canary.py", "--smoke", timeout=300).splitlines()
    assert any("alpha" in line and "effect sizes" in line for line in lines)
    for case in CASES:
        (row,) = [line for line in lines if line.strip().startswith(case)]
        assert "%" in row and "min)" in row
