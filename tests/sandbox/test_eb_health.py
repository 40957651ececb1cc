"""Elastic Beanstalk's health API in the sandbox, from the load balancer's measurements.

The shapes are botocore's (elasticbeanstalk DescribeInstancesHealth, DescribeEnvironmentHealth),
the semantics AWS's API reference: RequestCount of the window, StatusCodes as integer
percentages, Latency PX as the mean of the slowest (100 - X) %, Deployment.VersionLabel per
instance; the window is 10 s, divided by `--time-scale`. Unit tests on a state folder written
here; the moto wiring is exercised by the canary end-to-end tests (tests/automation).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import botocore.session
import pytest
from botocore.validate import ParamValidator

from common.paths import StackPaths
from sandbox.eb_health import (
    HealthApiError,
    StackHealth,
    application_metrics,
    latency_summary,
    window_seconds,
)
from sandbox.proxy import metrics_path

NOW = 1_800_000_000.0


def test_latency_is_the_mean_of_the_slowest_share() -> None:
    latencies = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    summary = latency_summary(latencies)
    assert summary["P99"] == 0.1  # the slowest 1 % (one request)
    assert summary["P90"] == pytest.approx(0.0955, abs=1e-3)  # mean of 91..100 ms
    assert summary["P50"] == pytest.approx(0.0755, abs=1e-3)  # mean of the slowest half
    assert summary["P10"] == pytest.approx(0.0555, abs=1e-3)  # mean of 11..100 ms
    assert latency_summary([]) == {}


def test_window_counts_only_its_requests_and_rounds_percentages() -> None:
    requests = [[NOW - 11, 500, 0.5]]  # outside the 10 s window
    requests += [[NOW - 1 - i / 100, 200, 0.01] for i in range(97)]
    requests += [[NOW - 2, 500, 0.2]] * 3
    metrics = application_metrics(requests, NOW, 10.0)
    assert metrics["RequestCount"] == 100
    assert metrics["Duration"] == 10
    assert metrics["StatusCodes"] == {
        "Status2xx": 97,
        "Status3xx": 0,
        "Status4xx": 0,
        "Status5xx": 3,
    }
    assert metrics["Latency"]["P99"] == 0.2
    assert application_metrics([], NOW, 10.0) == {"Duration": 10, "RequestCount": 0}


def test_time_scale_shortens_the_window_never_below_a_second() -> None:
    assert window_seconds(1) == 10.0
    assert window_seconds(5) == 2.0
    assert window_seconds(60) == 1.0


def _stack(tmp_path: Path, *, deploying: bool, time_scale: float = 1.0) -> Path:
    paths = StackPaths(tmp_path, "prod")
    paths.dir.mkdir(parents=True)
    state = {
        "app": {"environment": "passport-prod", "version": "v-old"},
        "deployments": [{}],
        "time_scale": time_scale,
    }
    if deploying:
        state["deploying"] = {"version": "v-new", "environment": "passport-prod"}
    paths.sandbox.write_text(json.dumps(state))

    def backend(name: str, version: str, state: str, age: float, requests: list) -> dict:
        return {"name": name, "version": version, "state": state,
                "registered_at": NOW - age, "requests": requests}  # fmt: skip

    backends = {
        "4001": backend("i-old1", "v-old", "healthy", 100, [[NOW - 1, 200, 0.01]] * 9),
        "4002": backend(
            "i-new1", "v-new", "healthy", 5, [[NOW - 1, 200, 0.03], [NOW - 1, 500, 0.05]]
        ),
        "4003": backend("i-new2", "v-new", "initial", 2, []),
    }
    metrics_path(paths.proxy_target).write_text(json.dumps({"time": NOW, "backends": backends}))
    return paths.dir


def _valid_output(operation: str, response: dict) -> None:
    """The response fits botocore's output shape (what boto3 would parse)."""
    model = botocore.session.get_session().get_service_model("elasticbeanstalk")
    shape = model.operation_model(operation).output_shape
    report = ParamValidator().validate(response, shape)
    assert not report.has_errors(), report.generate_report()


def test_instances_health_per_instance_and_version(tmp_path: Path) -> None:
    health = StackHealth(_stack(tmp_path, deploying=True), clock=lambda: NOW)
    response = health.describe_instances_health("passport-prod", attribute_names=["All"])
    _valid_output("DescribeInstancesHealth", response)
    by_id = {i["InstanceId"]: i for i in response["InstanceHealthList"]}
    assert set(by_id) == {"i-old1", "i-new1", "i-new2"}
    assert by_id["i-old1"]["Deployment"]["VersionLabel"] == "v-old"
    assert by_id["i-old1"]["Deployment"]["Status"] == "Deployed"
    assert by_id["i-new1"]["Deployment"]["Status"] == "Deploying"
    assert by_id["i-new1"]["ApplicationMetrics"]["StatusCodes"]["Status5xx"] == 50
    assert by_id["i-new1"]["ApplicationMetrics"]["RequestCount"] == 2
    assert by_id["i-new2"]["HealthStatus"] == "Pending"
    assert by_id["i-old1"]["HealthStatus"] == "Ok"
    # Only what was asked for, as EB answers
    bare = health.describe_instances_health("passport-prod", attribute_names=["Deployment"])
    assert set(bare["InstanceHealthList"][0]) == {"InstanceId", "Deployment"}


def test_environment_health_and_unknown_environment(tmp_path: Path) -> None:
    health = StackHealth(_stack(tmp_path, deploying=False), clock=lambda: NOW)
    response = health.describe_environment_health("passport-prod", attribute_names=["All"])
    _valid_output("DescribeEnvironmentHealth", response)
    assert response["InstancesHealth"]["Ok"] == 2 and response["InstancesHealth"]["Pending"] == 1
    assert response["ApplicationMetrics"]["RequestCount"] == 11
    with pytest.raises(HealthApiError) as err:
        health.describe_instances_health("passport-other", attribute_names=["All"])
    assert err.value.code == "InvalidRequestException"


def test_abort_marks_a_running_update_and_refuses_when_none_runs(tmp_path: Path) -> None:
    state_dir = _stack(tmp_path, deploying=True)
    StackHealth(state_dir, clock=time.time).abort_environment_update("passport-prod")
    mark = json.loads(StackPaths(tmp_path, "prod").abort_request.read_text())
    assert mark["version"] == "v-new"
    idle = _stack(tmp_path / "idle", deploying=False)
    with pytest.raises(HealthApiError, match="no abortable operation"):
        StackHealth(idle).abort_environment_update("passport-prod")
