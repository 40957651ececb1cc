"""CloudWatch metric alarms (plain and metric-math) and dashboards; CloudWatch Logs groups and
metric filters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from common.aws_errors import error_code
from common.contracts import ResourceType
from sandbox.realise import filter_patterns
from sandbox.realise.context import RealiseContext, tag_list

SCALARS = {
    "comparisonOperator": "ComparisonOperator",
    "evaluationPeriods": "EvaluationPeriods",
    "metricName": "MetricName",
    "namespace": "Namespace",
    "period": "Period",
    "statistic": "Statistic",
    "extendedStatistic": "ExtendedStatistic",
    "threshold": "Threshold",
    "thresholdMetricId": "ThresholdMetricId",
    "alarmDescription": "AlarmDescription",
    "treatMissingData": "TreatMissingData",
    "datapointsToAlarm": "DatapointsToAlarm",
    "unit": "Unit",
    "actionsEnabled": "ActionsEnabled",
    "evaluateLowSampleCountPercentiles": "EvaluateLowSampleCountPercentiles",
}
LISTS = {
    "alarmActions": "AlarmActions",
    "okActions": "OKActions",
    "insufficientDataActions": "InsufficientDataActions",
}


def _dimensions(dims: Mapping[str, Any] | None) -> list[dict[str, str]]:
    return [{"Name": k, "Value": str(v)} for k, v in sorted((dims or {}).items())]


def _query(query: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"Id": query["id"], "ReturnData": bool(query.get("returnData", False))}
    for key, aws_key in (("expression", "Expression"), ("label", "Label"), ("period", "Period")):
        if query.get(key) is not None:
            out[aws_key] = query[key]
    if query.get("accountId"):
        out["AccountId"] = query["accountId"]
    metric = query.get("metric")
    if metric:
        stat: dict[str, Any] = {
            "Metric": {
                "Namespace": metric["namespace"],
                "MetricName": metric["metricName"],
                "Dimensions": _dimensions(metric.get("dimensions")),
            },
            "Period": int(metric["period"]),
            "Stat": metric["stat"],
        }
        if metric.get("unit"):
            stat["Unit"] = metric["unit"]
        out["MetricStat"] = stat
    return out


def metric_alarm(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    alarm_name = ctx.physical_name(ResourceType.CLOUDWATCH_ALARM, name, inputs)
    body: dict[str, Any] = {"AlarmName": alarm_name}
    for key, aws_key in SCALARS.items():
        if inputs.get(key) is not None:
            body[aws_key] = inputs[key]
    for key, aws_key in LISTS.items():
        if inputs.get(key):
            body[aws_key] = list(inputs[key])
    if inputs.get("dimensions"):
        body["Dimensions"] = _dimensions(inputs["dimensions"])
    if inputs.get("metricQueries"):
        body["Metrics"] = [_query(q) for q in inputs["metricQueries"]]
    if inputs.get("tags"):
        body["Tags"] = tag_list(inputs["tags"])
    for key in ("EvaluationPeriods", "DatapointsToAlarm", "Period"):
        if key in body:
            body[key] = int(body[key])
    if "Threshold" in body:
        body["Threshold"] = float(body["Threshold"])
    ctx.client("cloudwatch").put_metric_alarm(**body)
    return alarm_name, {
        **inputs,
        "name": alarm_name,
        "arn": ctx.arn("cloudwatch", f"alarm:{alarm_name}"),
        "tagsAll": ctx.tags_all(inputs),
    }


def log_group(ctx: RealiseContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    logs = ctx.client("logs")
    group = ctx.physical_name(ResourceType.LOG_GROUP, name, inputs, max_len=512)
    create: dict[str, Any] = {"logGroupName": group}
    if inputs.get("kmsKeyId"):
        create["kmsKeyId"] = inputs["kmsKeyId"]
    if inputs.get("tags"):
        create["tags"] = dict(inputs["tags"])
    try:
        logs.create_log_group(**create)
    except Exception as exc:
        if error_code(exc) != "ResourceAlreadyExistsException":
            raise
    retention = inputs.get("retentionInDays")
    if retention:
        logs.put_retention_policy(logGroupName=group, retentionInDays=int(retention))
    else:
        logs.delete_retention_policy(logGroupName=group)
    return group, {
        **inputs,
        "name": group,
        "arn": ctx.arn("logs", f"log-group:{group}"),
        "tagsAll": ctx.tags_all(inputs),
    }


UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
}  # fmt: skip
_METRIC_NAME = re.compile(r"^[^:*$]{1,255}$")
_FILTER_NAME = re.compile(r"^[^:*]{1,512}$")


def _check_metric_filter(name: str, pattern: str, transformation: dict[str, Any]) -> None:
    """What PutMetricFilter refuses and moto lets through (InvalidParameterException)."""
    if not _FILTER_NAME.match(name):
        raise ValueError(f"metric filter name {name!r}: 1-512 characters, no ':' or '*'")
    filter_patterns.check(pattern)
    for key in ("metricName", "metricNamespace"):
        value = str(transformation.get(key) or "")
        if not _METRIC_NAME.match(value):
            raise ValueError(f"metric filter {name}: {key} {value!r}: 1-255 characters, no : * $")
    if not 1 <= len(str(transformation.get("metricValue") or "")) <= 100:
        raise ValueError(f"metric filter {name}: metricValue must be 1-100 characters")
    unit = transformation.get("unit")
    if unit is not None and unit not in UNITS:
        raise ValueError(f"metric filter {name}: unit {unit!r} is not a CloudWatch unit")


def metric_filter(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    logs = ctx.client("logs")
    filter_name = ctx.physical_name(ResourceType.LOG_METRIC_FILTER, name, inputs)
    group = str(inputs["logGroupName"])
    mt = inputs["metricTransformation"]
    transformation: dict[str, Any] = {
        "metricName": mt["name"],
        "metricNamespace": mt["namespace"],
        "metricValue": mt["value"],
    }
    if mt.get("defaultValue") not in (None, ""):
        transformation["defaultValue"] = float(mt["defaultValue"])
    if mt.get("unit"):
        transformation["unit"] = mt["unit"]
    if mt.get("dimensions"):
        transformation["dimensions"] = dict(mt["dimensions"])
    _check_metric_filter(filter_name, str(inputs.get("pattern") or ""), transformation)
    # AWS refuses a filter on a log group that does not exist; moto stores it anyway.
    if not any(
        g["logGroupName"] == group
        for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    ):
        raise ValueError(f"metric filter {filter_name}: log group {group} does not exist")
    logs.put_metric_filter(
        logGroupName=group,
        filterName=filter_name,
        filterPattern=str(inputs.get("pattern") or ""),
        metricTransformations=[transformation],
    )
    return filter_name, {**inputs, "name": filter_name}


def dashboard(ctx: RealiseContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """PutDashboard (moto validates the body is JSON); the ARN as AWS forms it (no region)."""
    dashboard_name = str(inputs["dashboardName"])
    ctx.client("cloudwatch").put_dashboard(
        DashboardName=dashboard_name, DashboardBody=str(inputs["dashboardBody"])
    )
    return dashboard_name, {
        **inputs,
        "dashboardArn": ctx.arn("cloudwatch", f"dashboard/{dashboard_name}", region=False),
    }


HANDLERS = {
    ResourceType.CLOUDWATCH_ALARM: metric_alarm,
    ResourceType.CLOUDWATCH_DASHBOARD: dashboard,
    ResourceType.LOG_GROUP: log_group,
    ResourceType.LOG_METRIC_FILTER: metric_filter,
}
