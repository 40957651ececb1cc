"""Alarms: EB health, 5xx rate, p99 latency vs budget, DynamoDB throttles/errors, the app's
429s (metric filter on its log) -> SNS."""

from __future__ import annotations

from tests.support.graph_checks import alarms
from tests.support.program_graph import Graph


def test_every_alarm_notifies_the_topic(stack_graph: Graph) -> None:
    topic = stack_graph.outputs["alarm_topic_arn"]
    found = alarms(stack_graph)
    assert set(found) == {
        "env-health",
        "5xx-rate",
        "latency-p99",
        "emails-throttles",
        "emails-errors",
        "analytics-throttles",
        "analytics-errors",
        "app-rejected",
    } | ({"rate-limited"} if stack_graph.of_type("aws:wafv2/webAcl:WebAcl") else set())
    for alarm in found.values():
        assert alarm["alarmActions"] == [topic] and alarm["okActions"] == [topic]
        assert alarm["alarmDescription"]


def test_environment_alarms_watch_this_environment(stack_graph: Graph) -> None:
    found = alarms(stack_graph)
    env_name = stack_graph.outputs["environment_name"]
    health = found["env-health"]
    assert (health["namespace"], health["metricName"]) == (
        "AWS/ElasticBeanstalk",
        "EnvironmentHealth",
    )
    assert health["dimensions"] == {"EnvironmentName": env_name}
    assert health["threshold"] == 20
    assert health["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    rate = {q["id"]: q for q in found["5xx-rate"]["metricQueries"]}
    assert rate["errors"]["metric"]["metricName"] == "ApplicationRequests5xx"
    assert rate["requests"]["metric"]["metricName"] == "ApplicationRequestsTotal"
    assert rate["errors"]["metric"]["dimensions"] == {"EnvironmentName": env_name}
    assert (
        rate["rate"]["returnData"] is True
        and "100 * errors / requests" in rate["rate"]["expression"]
    )


def test_latency_alarm_uses_the_budget_in_seconds(stack_graphs: dict[str, Graph]) -> None:
    for graph in stack_graphs.values():
        latency = alarms(graph)["latency-p99"]
        assert latency["metricName"] == "ApplicationLatencyP99"
        assert latency["threshold"] == graph.outputs["latency_budget_ms"] / 1000


def test_table_alarms_sum_every_operation(stack_graph: Graph) -> None:
    found = alarms(stack_graph)
    for label, output in (("emails", "email_table"), ("analytics", "analytics_table")):
        for kind, metric in (("throttles", "ThrottledRequests"), ("errors", "SystemErrors")):
            queries = found[f"{label}-{kind}"]["metricQueries"]
            metrics = [q["metric"] for q in queries if "metric" in q]
            assert {m["metricName"] for m in metrics} == {metric}
            assert {m["dimensions"]["TableName"] for m in metrics} == {stack_graph.outputs[output]}
            assert {m["dimensions"]["Operation"] for m in metrics} >= {
                "GetItem",
                "PutItem",
                "Query",
            }
            (total,) = [q for q in queries if q.get("returnData")]
            assert total["expression"] == "SUM(FILL(METRICS(), 0))"


def test_email_subscription_only_when_configured(stack_graphs: dict[str, Graph]) -> None:
    assert stack_graphs["dev"].of_type("aws:sns/topicSubscription:TopicSubscription") == []
    for stack, email in (
        ("staging", "platform-alerts@passportphoto.example.com"),
        ("prod", "oncall@passportphoto.example.com"),
    ):
        sub = stack_graphs[stack].one("aws:sns/topicSubscription:TopicSubscription").inputs
        assert (sub["protocol"], sub["endpoint"]) == ("email", email)
        assert sub["topic"] == stack_graphs[stack].outputs["alarm_topic_arn"]


def test_every_stack_counts_the_apps_rejected_requests(stack_graphs: dict[str, Graph]) -> None:
    """dev has no WAF: the app's own 429s are counted from its access log in every stack."""
    for graph in stack_graphs.values():
        env_name = graph.outputs["environment_name"]
        flt = graph.one("aws:cloudwatch/logMetricFilter:LogMetricFilter").inputs
        assert flt["logGroupName"] == f"/aws/elasticbeanstalk/{env_name}/var/log/web.stdout.log"
        assert flt["pattern"] == "%.status.:429%"
        assert flt["metricTransformation"] == {
            "name": "RejectedRequests",
            "namespace": f"PassportPhoto/{env_name}",
            "value": "1",
            "defaultValue": "0",
            "unit": "Count",
        }
        alarm = alarms(graph)["app-rejected"]
        assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == (
            f"PassportPhoto/{env_name}",
            "RejectedRequests",
            "Sum",
        )
        assert (alarm["threshold"], alarm["period"], alarm["evaluationPeriods"]) == (100, 300, 1)
        assert alarm["comparisonOperator"] == "GreaterThanThreshold"
        assert alarm["alarmActions"] == [graph.outputs["alarm_topic_arn"]]
