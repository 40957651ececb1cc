"""The load balancer's traffic split and measurements (sandbox/proxy.py), without sockets.

TrafficSplitting's weighted routing must send NewVersionPercent of the requests to the new set,
interleaved rather than in bursts; an unhealthy new instance gets none; and each answered
request is measured per instance (what EB's health API and CloudWatch then report).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from sandbox.proxy import Backend, TargetGroup


def _group(
    tmp_path: Path, weights: dict[int, int], unhealthy: set[int] = frozenset()
) -> TargetGroup:
    group = TargetGroup(tmp_path / "proxy-target")
    for port, weight in weights.items():
        state = "unhealthy" if port in unhealthy else "healthy"
        group.backends[port] = Backend(f"i-{port}", port, f"v-{port}", weight, state=state)
    return group


@pytest.mark.parametrize("percent", [1, 10, 20, 50, 99])
def test_the_split_sends_new_version_percent_to_the_new_set(tmp_path: Path, percent: int) -> None:
    # two old and two new instances, weighted as sandbox/fleet.py registers them
    group = _group(tmp_path, {1: 100 - percent, 2: 100 - percent, 3: percent, 4: percent})
    picks = [group.choose(set()).port for _ in range(2000)]
    share = sum(1 for p in picks if p in (3, 4)) / len(picks)
    assert share == pytest.approx(percent / 100, abs=0.002)
    # interleaved: never more than a window's worth of old requests in a row at 10 % and up
    if percent >= 10:
        runs = "".join("n" if p in (3, 4) else "o" for p in picks).split("n")
        assert max(len(r) for r in runs) <= 2 * (100 - percent) // percent + 1


def test_an_unhealthy_instance_gets_no_share(tmp_path: Path) -> None:
    group = _group(tmp_path, {1: 80, 2: 80, 3: 20, 4: 20}, unhealthy={3})
    picks = Counter(group.choose(set()).port for _ in range(1000))
    assert picks[3] == 0 and picks[4] > 0


def test_each_answer_is_measured_per_instance() -> None:
    backend = Backend("i-1", 1, "v-1")
    for status in (200, 200, 503, 404):
        backend.measure(status, 0.05)
    assert backend.totals == {"count": 4, "2xx": 2, "3xx": 0, "4xx": 1, "5xx": 1}
    assert [s for _, s, _ in backend.requests] == [200, 200, 503, 404]
