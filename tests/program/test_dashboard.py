"""The stack's CloudWatch dashboard: the app's traffic next to the pipeline's deployments."""

from __future__ import annotations

import json

from automation import notify
from common.contracts import DEPLOYMENTS_NAMESPACE
from components.eb_settings import PUBLISHED_METRICS
from components.monitoring import APP_NAMESPACE, REJECTED_METRIC
from tests.support.program_graph import Graph

DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"


class Recorder:
    """A CloudWatch client that keeps what put_metric_data was given (the AWS edge)."""

    def __init__(self) -> None:
        self.data: list[dict] = []

    def put_metric_data(self, **kwargs: object) -> None:
        self.data.append(dict(kwargs))


def widget_metrics(stack_graph: Graph) -> list[tuple[str, str, dict[str, str]]]:
    (dashboard,) = stack_graph.of_type(DASHBOARD)
    body = json.loads(dashboard.inputs["dashboardBody"])
    found = []
    for widget in body["widgets"]:
        for metric in widget["properties"]["metrics"]:
            namespace, name, *dims = metric
            found.append((namespace, name, dict(zip(dims[::2], dims[1::2], strict=True))))
    return found


def test_the_dashboard_shows_requests_latency_5xx_and_rejected_of_this_environment(
    stack_graph: Graph,
) -> None:
    env = stack_graph.outputs["environment_name"]
    metrics = widget_metrics(stack_graph)
    eb = {name for ns, name, dims in metrics if ns == "AWS/ElasticBeanstalk"}
    assert eb == set(PUBLISHED_METRICS)  # only series EB is asked to publish
    assert all(
        dims == {"EnvironmentName": env} for ns, _, dims in metrics if ns == "AWS/ElasticBeanstalk"
    )
    assert (f"{APP_NAMESPACE}/{env}", REJECTED_METRIC, {}) in metrics


def test_its_deployment_metrics_are_the_ones_the_pipeline_puts(stack_graph: Graph) -> None:
    recorder = Recorder()
    stack = stack_graph.outputs["stack"]
    assert notify.put_deployment_metrics(
        stack, duration_s=1.0, succeeded=True, rolled_back=False, client=recorder
    )
    (call,) = recorder.data
    put = {
        (
            call["Namespace"],
            m["MetricName"],
            tuple((d["Name"], d["Value"]) for d in m["Dimensions"]),
        )
        for m in call["MetricData"]
    }
    shown = {
        (ns, name, tuple(dims.items()))
        for ns, name, dims in widget_metrics(stack_graph)
        if ns == DEPLOYMENTS_NAMESPACE
    }
    assert shown == put  # every deployment metric put is on the dashboard, and only those


def test_its_url_is_an_output_naming_it(stack_graph: Graph) -> None:
    (dashboard,) = stack_graph.of_type(DASHBOARD)
    region = stack_graph.outputs["region"]
    name = dashboard.inputs["dashboardName"]
    assert name == f"{stack_graph.outputs['environment_name']}-delivery"
    assert stack_graph.outputs["dashboard_url"] == (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#dashboards/dashboard/{name}"
    )
