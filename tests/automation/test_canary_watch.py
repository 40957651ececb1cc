"""The judge in flight (automation/canary/inflight.py) over a scripted health API.

No deployment: a stand-in for EB's DescribeInstancesHealth answers windows of a baseline and a
canary instance, and records AbortEnvironmentUpdate. What is tested is the watch's own
decisions: when the split starts, when it looks, when it aborts, and what a human review
changes. The real API against a real split is tests/automation/test_canary_sandbox.py.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from automation.canary.inflight import CanaryWatch
from automation.canary.judge import JudgeConfig
from automation.errors import UsageError
from automation.wiring import build_pipeline
from tests.support.cli_runner import run_module

BASE, NEW = "v-old", "v-new"


class ScriptedHealth:
    """EB's health API for one environment, with per-version 5xx percentages per window."""

    def __init__(
        self, canary_5xx: int, canary_from_poll: int = 3, canary_requests: int = 100
    ) -> None:
        self.canary_5xx = canary_5xx
        self.canary_requests = canary_requests
        self.canary_from_poll = canary_from_poll
        self.polls = itertools.count()
        self.aborts = 0

    def _item(
        self, instance: str, version: str, status5xx: int, n: int, requests: int = 100
    ) -> dict[str, Any]:
        return {
            "InstanceId": instance,
            "HealthStatus": "Ok",
            "ApplicationMetrics": {
                "Duration": 10,
                "RequestCount": requests,
                "StatusCodes": {
                    "Status2xx": 100 - status5xx,
                    "Status3xx": 0,
                    "Status4xx": 0,
                    "Status5xx": status5xx,
                },
                "Latency": {
                    "P50": 0.010 + (n % 7) / 1000,
                    "P90": 0.020 + (n % 5) / 1000,
                    "P99": 0.030 + (n % 3) / 1000,
                },
            },  # fmt: skip
            "Deployment": {"VersionLabel": version, "DeploymentTime": datetime.now(tz=UTC)},
        }

    def instances(self) -> dict[str, Any]:
        n = next(self.polls)
        items = [self._item("i-base", BASE, 0, n)]
        if n >= self.canary_from_poll:
            status = self.canary_5xx if n % 2 else 0
            items.append(self._item("i-new", NEW, status, n, self.canary_requests))
        return {"InstanceHealthList": items, "RefreshedAt": datetime.fromtimestamp(n, tz=UTC)}

    def abort(self) -> None:
        self.aborts += 1


def _watch(health: ScriptedHealth, *, human_review: bool = False) -> CanaryWatch:
    config = JudgeConfig.default()
    return CanaryWatch(
        health,  # type: ignore[arg-type]
        baseline=BASE,
        canary=NEW,
        config=config,
        evaluation_s=1.2,
        window_s=0.02,
        human_review=human_review,
    )


def _run_until_done(watch: CanaryWatch) -> None:
    watch.start()
    deadline = time.monotonic() + 10
    while watch._thread is not None and watch._thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_a_failing_canary_is_aborted_at_the_interim_look() -> None:
    health = ScriptedHealth(canary_5xx=10)
    watch = _watch(health)
    _run_until_done(watch)
    outcome = watch.finish()
    assert health.aborts == 1 and outcome.aborted
    assert [look["look"] for look in outcome.looks] == ["interim"]
    assert outcome.decision == "fail" and "error_rate_5xx" in outcome.verdict.reason


def test_a_healthy_canary_is_let_through_after_the_final_look() -> None:
    health = ScriptedHealth(canary_5xx=0)
    watch = _watch(health)
    _run_until_done(watch)
    outcome = watch.finish()
    assert health.aborts == 0 and not outcome.aborted
    assert [look["look"] for look in outcome.looks] == ["interim", "final"]
    assert outcome.decision == "pass" and outcome.final


@pytest.mark.parametrize(("human_review", "aborts"), [(False, 1), (True, 0)])
def test_inconclusive_fails_safe_unless_a_human_reviews(human_review: bool, aborts: int) -> None:
    # the canary gets one request per window: far too few samples for the judge
    health = ScriptedHealth(canary_5xx=0, canary_requests=1)
    watch = _watch(health, human_review=human_review)
    _run_until_done(watch)
    outcome = watch.finish()
    assert outcome.decision == "inconclusive"
    assert health.aborts == aborts and outcome.aborted is bool(aborts)


def test_time_scale_is_refused_with_the_pulumi_engine() -> None:
    with pytest.raises(UsageError, match="--time-scale 20 is refused with --engine pulumi"):
        build_pipeline("prod", "pulumi", time_scale=20)


def test_the_cli_refuses_time_scale_with_the_pulumi_engine_before_touching_anything() -> None:
    done = run_module(
        "automation", "up", "--stack", "prod", "--engine", "pulumi", "--time-scale", "20",
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "--time-scale 20 is refused with --engine pulumi" in done.stderr
    assert "Traceback" not in done.stderr
