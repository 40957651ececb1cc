"""benchmarks/bench_bundle.py runs (bundle sizes, the sandbox venv cache) and prints."""

from __future__ import annotations

import re

import pytest

from tests.support.benchmarks import run_bench

pytestmark = pytest.mark.slow


def test_a_smoke_run_prints_both_bundle_sizes_and_the_warm_venv() -> None:
    out = run_bench("bench_bundle.py", "--smoke")
    assert re.search(r"bundle, self-contained: [\d.]+ MB \(\d+% of EB's 500 MB limit", out), out
    assert re.search(r"bundle, index \(lock only\): [\d.]+ MB", out), out
    assert re.search(r"sandbox venv, warm .*: [\d.]+ s", out), out
