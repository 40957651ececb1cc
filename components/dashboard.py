"""A CloudWatch dashboard per stack: the app's traffic next to its deployments.

Requests, p99 latency and 5xx (EB enhanced health's environment metrics, eb_settings
PUBLISHED_METRICS), the requests the app rejected (429s, the metric filter in monitoring.py)
and the pipeline's own deployment metrics (automation/notify.py: duration, success, rollbacks
per stack) share one time axis, so a deploy is seen against the traffic it changed. The
dashboard's console URL is a stack output (`dashboard_url`).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from common.contracts import DEPLOYMENTS_NAMESPACE
from components.monitoring import APP_NAMESPACE, EB_NAMESPACE, REJECTED_METRIC

PERIOD = 60


def _widget(
    title: str, metrics: list[list[Any]], region: str, x: int, y: int, stat: str = "Sum"
) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": region,
            "stat": stat,
            "period": PERIOD,
            "view": "timeSeries",
            "metrics": metrics,
        },
    }


def dashboard_body(environment: str, stack: str, region: str) -> str:
    """The dashboard's JSON (CloudWatch's dashboard body structure)."""
    env = ["EnvironmentName", environment]
    deploys = ["Stack", stack]
    widgets = [
        _widget("Requests", [[EB_NAMESPACE, "ApplicationRequestsTotal", *env]], region, 0, 0),
        _widget(
            "Latency p99 (s)",
            [[EB_NAMESPACE, "ApplicationLatencyP99", *env]],
            region,
            12,
            0,
            stat="Maximum",
        ),
        _widget("5xx responses", [[EB_NAMESPACE, "ApplicationRequests5xx", *env]], region, 0, 6),
        _widget(
            "Rejected requests (429)",
            [[f"{APP_NAMESPACE}/{environment}", REJECTED_METRIC]],
            region,
            12,
            6,
        ),
        _widget(
            "Deployments: succeeded and rolled back",
            [
                [DEPLOYMENTS_NAMESPACE, "DeploymentSucceeded", *deploys],
                [DEPLOYMENTS_NAMESPACE, "DeploymentRollbacks", *deploys],
            ],
            region,
            0,
            12,
        ),
        _widget(
            "Deployment duration (s)",
            [[DEPLOYMENTS_NAMESPACE, "DeploymentDuration", *deploys]],
            region,
            12,
            12,
            stat="Maximum",
        ),
    ]
    return json.dumps({"widgets": widgets}, sort_keys=True)


def dashboard_url(region: str, name: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#dashboards/dashboard/{name}"
    )


class Dashboard(pulumi.ComponentResource):
    """One dashboard named after the stack's environment; `url` opens it in the console."""

    def __init__(
        self,
        name: str,
        *,
        environment_name: pulumi.Input[str],
        stack: str,
        region: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("passport:dashboard:Dashboard", name, None, opts)
        dashboard_name = pulumi.Output.from_input(environment_name).apply(
            lambda env: f"{env}-delivery"
        )
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=dashboard_name,
            dashboard_body=pulumi.Output.from_input(environment_name).apply(
                lambda env: dashboard_body(env, stack, region)
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.url = self.dashboard.dashboard_name.apply(lambda n: dashboard_url(region, n))
        self.register_outputs({"url": self.url})
