"""monitoring: the alarm topic exists, alarms notify it, none is firing right now, and every
alarm on a custom metric (not AWS/…) has a CloudWatch Logs metric filter publishing it: an alarm
on a metric nothing publishes stays OK forever (missing data is not breaching)."""

from __future__ import annotations

from collections.abc import Callable

from common.aws_errors import error_code
from verify.context import Check, CheckContext
from verify.model import CheckFailed, Outcome, Problems

WHERE = "components/ (monitoring) / `aws cloudwatch describe-alarms`"


def alarms_notifying(describe_alarms: Callable[..., dict], topic: str) -> list[dict]:
    """Every alarm whose actions notify `topic` (the stack's alarms), all pages.

    `describe_alarms` is CloudWatch's DescribeAlarms (a boto3 client's method, or verify's
    retrying call); the canary's bake watches the same alarms this check reads.
    """
    alarms: list[dict] = []
    token = None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = describe_alarms(**kwargs)
        for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
            actions = (
                alarm.get("AlarmActions", [])
                + alarm.get("OKActions", [])
                + alarm.get("InsufficientDataActions", [])
            )
            if topic in actions:
                alarms.append(alarm)
        token = page.get("NextToken")
        if not token:
            return alarms


def alarms_for(ctx: CheckContext, topic: str) -> list[dict]:
    return alarms_notifying(lambda **kw: ctx.aws.call("cloudwatch", "describe_alarms", **kw), topic)


def unfed(ctx: CheckContext, alarms: list[dict]) -> list[str]:
    """Alarms on a custom metric that no metric filter publishes."""
    missing = []
    for alarm in alarms:
        namespace, metric = alarm.get("Namespace"), alarm.get("MetricName")
        if not namespace or not metric or namespace.startswith("AWS/"):
            continue
        found = ctx.aws.call(
            "logs", "describe_metric_filters", metricName=metric, metricNamespace=namespace
        )
        if not found.get("metricFilters"):
            missing.append(f"{alarm['AlarmName']} ({namespace} {metric})")
    return sorted(missing)


def run(ctx: CheckContext) -> Outcome:
    topic = ctx.outputs["alarm_topic_arn"]
    try:
        ctx.aws.call("sns", "get_topic_attributes", TopicArn=topic)
    except Exception as exc:
        if error_code(exc) in ("NotFound", "NotFoundException", "InvalidParameter"):
            raise CheckFailed(
                f"alarm topic {topic}: expected to exist, got {error_code(exc)} — "
                f"check {WHERE} / `aws sns get-topic-attributes`"
            ) from exc
        raise
    alarms = alarms_for(ctx, topic)
    problems = Problems()
    problems.expect(
        bool(alarms), f"CloudWatch alarms notifying {topic}", "at least one", "none", WHERE
    )
    states = {a["AlarmName"]: a.get("StateValue") for a in alarms}
    firing = sorted(name for name, state in states.items() if state == "ALARM")
    problems.expect(
        not firing,
        "alarms in state ALARM",
        "none",
        ", ".join(firing) or "none",
        "the alarm's metric in CloudWatch (`aws cloudwatch describe-alarm-history`)",
    )
    silent = unfed(ctx, alarms)
    problems.expect(
        not silent,
        "alarms on custom metrics without a metric filter publishing them",
        "none",
        ", ".join(silent) or "none",
        "components/monitoring.py (LogMetricFilter) / `aws logs describe-metric-filters`",
    )
    details = {"topic": topic, "alarms": states}
    problems.raise_if_any(details)
    return Outcome(f"{len(alarms)} alarm(s) notify the topic, none in ALARM", details)


CHECK = Check(
    name="monitoring",
    run=run,
    description="alarm topic exists, alarms notify it, none in ALARM, custom metrics are fed",
    requires=("region", "alarm_topic_arn"),
    needs_app=False,
    timeout_s=30.0,
)
