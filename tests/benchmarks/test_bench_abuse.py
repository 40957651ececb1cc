"""benchmarks/bench_abuse.py replays the abuse cases through the real app and prints JSON."""

from __future__ import annotations

import json

import pytest

from tests.support.benchmarks import run_bench

pytestmark = pytest.mark.slow


def test_a_run_prints_the_outcome_of_each_attack() -> None:
    out = run_bench("bench_abuse.py", ".")
    figures = json.loads(out[out.rindex("\n{") :])  # the JSON is the last block
    for attack in ("5000_char_url", "9000_char_url", "150_headers", "20_forged_xff_validates"):
        assert figures[attack], attack
