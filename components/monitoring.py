"""Alarms on what users feel, routed to one SNS topic.

EB enhanced health publishes the environment metrics used here once its ConfigDocument asks
for them (see eb_settings.PUBLISHED_METRICS). DynamoDB's ThrottledRequests and SystemErrors are
only emitted per operation, so those alarms sum the per-operation series with metric math; an
alarm on the bare TableName dimension would watch a series that never exists.

The app's own rejections (429 from the per-client limits and the per-address email quota) exist
only in its access log, so a metric filter on the log group EB streams the app's stdout to counts
them; that needs no permission on the instances and no API call per request. EB's rsyslog prefixes
each stdout line ("Nov 22 02:45:56 ip-10-0-0-1 web[1234]: {...}"), so the event is not pure JSON
and a JSON pattern (`{ $.status = 429 }`) would never match: the pattern is a regex on the compact
JSON line (`"status":429`; any quote inside a string value is escaped, so input cannot forge it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

EB_NAMESPACE = "AWS/ElasticBeanstalk"
DYNAMODB_NAMESPACE = "AWS/DynamoDB"
HEALTH_DEGRADED = 20
"""EnvironmentHealth: 0 Ok, 1 Info, 5 Unknown, 10 No data, 15 Warning, 20 Degraded, 25 Severe."""
ERROR_RATE_PERCENT = 5
TABLE_OPERATIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query")
PERIOD = 60
WAF_NAMESPACE = "AWS/WAFV2"
WAF_BLOCKED_PER_5_MIN = 100
"""Rejected requests per 5 minutes that mean an attack (or a broken client) worth a look."""
APP_NAMESPACE = "PassportPhoto"
"""Custom metrics live under PassportPhoto/<environment name> (a regex metric filter cannot set
dimensions, so the environment is in the namespace: stacks sharing an account stay apart)."""
REJECTED_METRIC = "RejectedRequests"
REJECTED_PATTERN = "%.status.:429%"
"""Matches `"status":429` in an access-log line (regex: `"` is not allowed in a CloudWatch regex,
`.` stands for it; an escaped `\\"status\\":429` inside a value has two characters there)."""
APP_REJECTED_PER_5_MIN = 100


def app_log_group(environment_name: pulumi.Input[str]) -> pulumi.Output[str]:
    """The log group EB streams the app's stdout to (StreamLogs, Amazon Linux 2/2023 platforms)."""
    return pulumi.Output.concat(
        "/aws/elasticbeanstalk/", environment_name, "/var/log/web.stdout.log"
    )


@dataclass
class MonitoringArgs:
    environment_name: pulumi.Input[str]
    tables: Mapping[str, pulumi.Input[str]]
    """Short label (used in alarm names) -> DynamoDB table name."""
    latency_budget_ms: int
    alarm_email: str | None
    tags: Mapping[str, str]
    waf_dimensions: Mapping[str, pulumi.Input[str]] | None = None
    """WebACL, Rule, Region of the WAF rate rule (None: no WAF in this stack)."""


def _metric(
    query_id: str, metric: str, namespace: str, dimensions: Mapping[str, pulumi.Input[str]]
) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=query_id,
        return_data=False,
        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            metric_name=metric,
            namespace=namespace,
            period=PERIOD,
            stat="Sum",
            dimensions=dict(dimensions),
        ),
    )


def _expression(
    query_id: str, expression: str, label: str
) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=query_id, expression=expression, label=label, return_data=True
    )


class Monitoring(pulumi.ComponentResource):
    topic: aws.sns.Topic
    alarms: dict[str, aws.cloudwatch.MetricAlarm]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("passport:monitoring:Monitoring", name, None, opts)
        self._name = name
        self._tags = dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)

        self.topic = aws.sns.Topic(f"{name}-alarms", tags=self._tags, opts=child)
        if args.alarm_email:
            # AWS mails a confirmation link; alerts flow once it is clicked.
            aws.sns.TopicSubscription(
                f"{name}-alarms-email",
                topic=self.topic.arn,
                protocol="email",
                endpoint=args.alarm_email,
                opts=child,
            )

        env = {"EnvironmentName": args.environment_name}
        self.alarms = {}
        self._alarm(
            "env-health",
            description="Elastic Beanstalk environment health is Degraded or Severe",
            namespace=EB_NAMESPACE,
            metric_name="EnvironmentHealth",
            dimensions=env,
            statistic="Maximum",
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=HEALTH_DEGRADED,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            treat_missing_data="missing",
        )
        self._alarm(
            "5xx-rate",
            description=f"More than {ERROR_RATE_PERCENT}% of requests answered with 5xx",
            metric_queries=[
                _metric("errors", "ApplicationRequests5xx", EB_NAMESPACE, env),
                _metric("requests", "ApplicationRequestsTotal", EB_NAMESPACE, env),
                _expression("rate", "IF(requests > 0, 100 * errors / requests, 0)", "5xx percent"),
            ],
            comparison_operator="GreaterThanThreshold",
            threshold=ERROR_RATE_PERCENT,
            evaluation_periods=5,
            datapoints_to_alarm=3,
        )
        self._alarm(
            "latency-p99",
            description=f"p99 latency above the {args.latency_budget_ms} ms budget",
            namespace=EB_NAMESPACE,
            metric_name="ApplicationLatencyP99",
            dimensions=env,
            statistic="Maximum",
            comparison_operator="GreaterThanThreshold",
            threshold=args.latency_budget_ms / 1000,  # the metric is in seconds
            evaluation_periods=5,
            datapoints_to_alarm=3,
        )
        for label, table in args.tables.items():
            dims = {"TableName": table}
            for suffix, metric, what, description in (
                ("throttles", "ThrottledRequests", "throttled requests", "throttled requests"),
                (
                    "errors",
                    "SystemErrors",
                    "system errors",
                    "system errors (HTTP 500 from DynamoDB)",
                ),
            ):
                self._alarm(
                    f"{label}-{suffix}",
                    description=f"DynamoDB {label} table {description}",
                    metric_queries=[
                        _metric(f"op{i}", metric, DYNAMODB_NAMESPACE, {**dims, "Operation": op})
                        for i, op in enumerate(TABLE_OPERATIONS)
                    ]
                    + [_expression("total", "SUM(FILL(METRICS(), 0))", what)],
                    comparison_operator="GreaterThanThreshold",
                    threshold=0,
                    evaluation_periods=5,
                    datapoints_to_alarm=2,
                )

        if args.waf_dimensions is not None:
            self._alarm(
                "rate-limited",
                description=(
                    f"More than {WAF_BLOCKED_PER_5_MIN} requests in 5 minutes rejected by the "
                    "WAF per-IP rate limit (flood or abusive client)"
                ),
                namespace=WAF_NAMESPACE,
                metric_name="BlockedRequests",
                dimensions=dict(args.waf_dimensions),
                statistic="Sum",
                comparison_operator="GreaterThanThreshold",
                threshold=WAF_BLOCKED_PER_5_MIN,
                evaluation_periods=1,
                period_override=300,
            )

        self._rejected_requests(args.environment_name)

        self.register_outputs(
            {"alarm_topic_arn": self.topic.arn, "alarms": [a.name for a in self.alarms.values()]}
        )

    def _rejected_requests(self, environment_name: pulumi.Input[str]) -> None:
        """Count the app's 429 answers from its access log and alarm on a burst (every stack:
        dev has no WAF, and the WAF never sees the per-address email quota)."""
        namespace = pulumi.Output.concat(APP_NAMESPACE, "/", environment_name)
        self.rejected_filter = aws.cloudwatch.LogMetricFilter(
            f"{self._name}-rejected-requests",
            # Built from the environment's name output, so it waits for EB to create the group.
            log_group_name=app_log_group(environment_name),
            pattern=REJECTED_PATTERN,
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                name=REJECTED_METRIC,
                namespace=namespace,
                value="1",
                default_value="0",
                unit="Count",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._alarm(
            "app-rejected",
            description=(
                f"More than {APP_REJECTED_PER_5_MIN} requests in 5 minutes answered 429 by the app "
                "(per-client limits, resend cooldown, daily email cap)"
            ),
            namespace=namespace,
            metric_name=REJECTED_METRIC,
            statistic="Sum",
            comparison_operator="GreaterThanThreshold",
            threshold=APP_REJECTED_PER_5_MIN,
            evaluation_periods=1,
            period_override=300,
        )

    def _alarm(self, key: str, *, description: str, **kwargs: object) -> None:
        period = kwargs.pop("period_override", PERIOD)
        if "metric_queries" not in kwargs:
            kwargs["period"] = period
        kwargs.setdefault("treat_missing_data", "notBreaching")
        self.alarms[key] = aws.cloudwatch.MetricAlarm(
            f"{self._name}-{key}",
            alarm_description=description,
            alarm_actions=[self.topic.arn],
            ok_actions=[self.topic.arn],
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self),
            **kwargs,
        )
