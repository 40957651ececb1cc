"""The sandbox's CloudWatch agent: EB metrics from the load balancer's measurements, and the
stack's alarms evaluated on them as CloudWatch would (threshold, period, M of N datapoints,
missing data, metric math), their state set through the public API of a real moto server.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from common.contracts import SANDBOX_AWS_ENV
from common.paths import StackPaths
from sandbox.cloudwatch_agent import CloudWatchAgent, evaluate_expression, judge_alarm
from sandbox.proxy import metrics_path

ENV = "passport-prod"
T0 = 1_800_000_000.0  # a multiple of 60: periods start on it


def _client(endpoint: str):
    return boto3.client(
        "cloudwatch",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=SANDBOX_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=SANDBOX_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=SANDBOX_AWS_ENV["AWS_SESSION_TOKEN"],
    )


def _five_xx_alarm(client, name: str = "passport-prod-5xx-rate") -> None:
    """The program's 5xx-rate alarm (components/monitoring.py): metric math, 3 of 5 > 5 %."""

    def metric(qid: str, metric_name: str) -> dict:
        return {
            "Id": qid,
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/ElasticBeanstalk",
                    "MetricName": metric_name,
                    "Dimensions": [{"Name": "EnvironmentName", "Value": ENV}],
                },
                "Period": 60,
                "Stat": "Sum",
            },
        }

    client.put_metric_alarm(
        AlarmName=name,
        Metrics=[
            metric("errors", "ApplicationRequests5xx"),
            metric("requests", "ApplicationRequestsTotal"),
            {
                "Id": "rate",
                "Expression": "IF(requests > 0, 100 * errors / requests, 0)",
                "Label": "5xx percent",
                "ReturnData": True,
            },
        ],  # fmt: skip
        ComparisonOperator="GreaterThanThreshold",
        Threshold=5.0,
        EvaluationPeriods=5,
        DatapointsToAlarm=3,
        TreatMissingData="notBreaching",
    )


class Stack:
    """A sandbox state folder whose load balancer 'measured' what a test says."""

    def __init__(self, root: Path, time_scale: float) -> None:
        self.paths = StackPaths(root, "prod")
        self.paths.dir.mkdir(parents=True)
        self.paths.sandbox.write_text(
            json.dumps(
                {
                    "app": {"environment": ENV, "env_vars": {"AWS_REGION": "us-east-1"}},
                    "time_scale": time_scale,
                }
            )
        )
        self.requests: list[list[float]] = []

    def serve(self, start: float, end: float, rps: int, error_every: int = 0) -> None:
        n = int((end - start) * rps)
        for i in range(n):
            status = 500 if error_every and i % error_every == 0 else 200
            self.requests.append([start + i / rps, status, 0.02])
        metrics_path(self.paths.proxy_target).write_text(
            json.dumps(
                {
                    "time": end,
                    "backends": {
                        "4001": {
                            "name": "i-1",
                            "version": "v",
                            "state": "healthy",
                            "requests": [r for r in self.requests if r[0] > end - 60],
                        }
                    },
                }  # fmt: skip
            )
        )


def _state(client, name: str) -> str:
    return client.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]


def test_the_5xx_alarm_fires_on_measured_errors_and_clears(clean_moto: str, tmp_path: Path) -> None:
    client = _client(clean_moto)
    _five_xx_alarm(client)
    stack = Stack(tmp_path, time_scale=30)  # a 60 s period lasts 2 s
    now = [T0]
    agent = CloudWatchAgent(stack.paths.dir, lambda region: client, clock=lambda: now[0])

    def advance(seconds: float, error_every: int = 0) -> None:
        for _ in range(int(seconds / 0.5)):
            stack.serve(now[0], now[0] + 0.5, rps=40, error_every=error_every)
            now[0] += 0.5
            agent.tick()

    advance(12)  # healthy traffic: 6 periods of 2 s
    assert _state(client, "passport-prod-5xx-rate") == "OK"
    advance(4, error_every=10)  # 10 % errors for two periods: 2 of 5, not yet
    assert _state(client, "passport-prod-5xx-rate") == "OK"
    advance(2.5, error_every=10)  # the third breaching period
    assert _state(client, "passport-prod-5xx-rate") == "ALARM"
    reason = client.describe_alarms(AlarmNames=["passport-prod-5xx-rate"])["MetricAlarms"][0][
        "StateReason"
    ]
    assert "3 out of the last 5 datapoints" in reason
    advance(8)  # healthy again: fewer than 3 of the last 5 breach
    assert _state(client, "passport-prod-5xx-rate") == "OK"
    # and the EB metrics it judged were published to CloudWatch, as EB does
    published = client.list_metrics(Namespace="AWS/ElasticBeanstalk")["Metrics"]
    assert {"ApplicationRequests5xx", "ApplicationRequestsTotal"} <= {
        m["MetricName"] for m in published
    }


def test_alarms_on_other_environments_are_left_alone(clean_moto: str, tmp_path: Path) -> None:
    client = _client(clean_moto)
    client.put_metric_alarm(
        AlarmName="other-latency",
        Namespace="AWS/ElasticBeanstalk",
        MetricName="ApplicationLatencyP99",
        Dimensions=[{"Name": "EnvironmentName", "Value": "someone-else"}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0.001,
        ComparisonOperator="GreaterThanThreshold",
    )
    before = client.describe_alarms(AlarmNames=["other-latency"])["MetricAlarms"][0]
    stack = Stack(tmp_path, time_scale=60)
    now = [T0]
    agent = CloudWatchAgent(stack.paths.dir, lambda region: client, clock=lambda: now[0])
    for _ in range(8):
        stack.serve(now[0], now[0] + 0.5, rps=20)
        now[0] += 0.5
        agent.tick()
    after = client.describe_alarms(AlarmNames=["other-latency"])["MetricAlarms"][0]
    assert (after["StateValue"], after["StateUpdatedTimestamp"]) == (
        before["StateValue"],
        before["StateUpdatedTimestamp"],
    )


@pytest.mark.parametrize(
    ("points", "treat", "expected"),
    [
        ([1, 9, 9, 9, 1], "notBreaching", "ALARM"),
        ([1, 9, 9, None, None], "notBreaching", "OK"),
        ([1, 9, 9, None, None], "breaching", "ALARM"),
        ([None] * 5, "missing", "INSUFFICIENT_DATA"),
        ([None] * 5, "ignore", None),
    ],
)
def test_m_of_n_and_missing_data(points: list, treat: str, expected: str | None) -> None:
    alarm = {
        "Threshold": 5.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": 5,
        "DatapointsToAlarm": 3,
        "TreatMissingData": treat,
    }
    verdict = judge_alarm(alarm, points)
    assert (verdict[0] if verdict else None) == expected


def test_metric_math_of_the_program() -> None:
    rate = "IF(requests > 0, 100 * errors / requests, 0)"
    assert evaluate_expression(rate, {"errors": 3.0, "requests": 30.0}) == 10.0
    assert evaluate_expression(rate, {"errors": 0.0, "requests": 0.0}) == 0.0
    total = "SUM(FILL(METRICS(), 0))"
    assert evaluate_expression(total, {"op0": None, "op1": 2.0, "op2": None}) == 2.0
    with pytest.raises(ValueError, match="not supported"):
        evaluate_expression("ANOMALY_DETECTION_BAND(m1)", {"m1": 1.0})
