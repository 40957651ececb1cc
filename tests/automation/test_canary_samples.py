"""DescribeInstancesHealth responses -> the judge's samples (automation/canary/samples.py)."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from automation.canary.judge import REQUESTS
from automation.canary.samples import pool, samples_from_health, windows_from_responses


def item(
    instance: str,
    label: str | None,
    requests: int,
    *,
    p50: float = 0.04,
    p90: float = 0.2,
    s5xx: int = 0,
    s4xx: int = 0,
) -> dict[str, Any]:
    """One InstanceHealthList item in boto3's shape (latency in seconds, codes in percent)."""
    entry: dict[str, Any] = {
        "InstanceId": instance,
        "ApplicationMetrics": {
            "Duration": 10,
            "RequestCount": requests,
            "StatusCodes": {
                "Status2xx": 100 - s5xx - s4xx,
                "Status3xx": 0,
                "Status4xx": s4xx,
                "Status5xx": s5xx,
            },
            "Latency": {
                "P999": 1.0,
                "P99": 0.9,
                "P95": 0.5,
                "P90": p90,
                "P85": 0.15,
                "P75": 0.1,
                "P50": p50,
                "P10": 0.005,
            },
        },
    }
    if label is not None:
        entry["Deployment"] = {"VersionLabel": label, "DeploymentId": 3, "Status": "Deployed"}
    if requests == 0:
        # EB leaves the percentages and latencies out of a window without requests.
        entry["ApplicationMetrics"] = {"Duration": 10, "RequestCount": 0}
    return entry


def response(at: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"InstanceHealthList": list(items), "RefreshedAt": at}


def test_the_fixture_matches_botocores_shape() -> None:
    """The items above are what boto3 returns (the service model's member names)."""
    model = botocore.session.get_session().get_service_model("elasticbeanstalk")
    single = model.shape_for("SingleInstanceHealth").members
    metrics = single["ApplicationMetrics"].members
    sample = item("i-1", "v1", 5)
    assert set(sample) <= set(single)
    assert set(sample["ApplicationMetrics"]) <= set(metrics)
    assert set(sample["ApplicationMetrics"]["Latency"]) == set(metrics["Latency"].members)
    assert set(sample["ApplicationMetrics"]["StatusCodes"]) == set(metrics["StatusCodes"].members)


def test_windows_become_per_version_samples_in_milliseconds() -> None:
    responses = [
        response(
            "t1", item("i-a", "old", 30, p50=0.04, s5xx=1), item("i-b", "new", 28, p50=0.05, s4xx=3)
        ),
        response("t2", item("i-a", "old", 31, p50=0.041), item("i-b", "new", 27, p50=0.06)),
    ]
    samples = samples_from_health(responses, "old", "new")
    assert samples.baseline["latency_p50"] == pytest.approx([40.0, 41.0])
    assert samples.canary["latency_p50"] == pytest.approx([50.0, 60.0])
    assert samples.baseline["error_rate_5xx"] == [1.0, 0.0]
    assert samples.canary["error_rate_4xx"] == [3.0, 0.0]
    assert samples.baseline[REQUESTS] == [30.0, 31.0]
    assert set(samples.canary) == {
        REQUESTS,
        "error_rate_5xx",
        "error_rate_4xx",
        "latency_p50",
        "latency_p75",
        "latency_p90",
        "latency_p99",
    }


def test_windows_without_requests_or_label_or_of_a_third_version_give_no_sample() -> None:
    responses = [
        response(
            "t1",
            item("i-a", "old", 0),
            item("i-b", None, 12),
            item("i-c", "older", 12),
            item("i-d", "new", 12),
        )
    ]
    samples = samples_from_health(responses, "old", "new")
    assert samples.baseline == {}
    assert samples.canary[REQUESTS] == [12.0]


def test_a_window_polled_twice_counts_once() -> None:
    same = item("i-a", "old", 30)
    responses = [response("t1", same), response("t1", same), response("t2", same)]
    assert len(samples_from_health(responses, "old", "new").baseline[REQUESTS]) == 2


def test_pooling_weights_by_requests_and_keeps_instances_apart() -> None:
    windows = windows_from_responses(
        [
            response("t1", item("i-a", "new", 5, s5xx=20), item("i-b", "new", 30)),
            response("t2", item("i-a", "new", 15, s5xx=0), item("i-b", "new", 30)),
            response("t3", item("i-a", "new", 2)),
        ]
    )
    pooled = pool(windows, 20)
    by_instance = {(w.instance, w.requests): w for w in pooled}
    a = by_instance[("i-a", 20.0)]
    assert a.rates["error_rate_5xx"] == pytest.approx(5.0)  # 1 error of 20 requests
    assert [w.requests for w in pooled if w.instance == "i-b"] == [30.0, 30.0]
    # the trailing 2 requests of i-a are under half the target: dropped
    assert all(w.requests >= 10 for w in pooled)
