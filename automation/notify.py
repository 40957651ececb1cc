"""Deployment metrics to CloudWatch and failure/rollback notices to the stack's SNS topic.

Sent through the ambient boto3 configuration (real AWS), or to the target an explicit `aws_env`
names (the sandbox's moto; see verify.aws.make_client). Notification problems are logged, never
allowed to mask the deployment's own result.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from verify.aws import make_client

NAMESPACE = "PassportPhoto/Deployments"
log = logging.getLogger("automation.notify")


def put_deployment_metrics(
    stack: str,
    *,
    duration_s: float,
    succeeded: bool,
    rolled_back: bool,
    client: Any = None,
    aws_env: Mapping[str, str] | None = None,
) -> bool:
    """Duration, success and rollback count as custom metrics (dimension Stack)."""
    try:
        client = client or make_client("cloudwatch", aws_env)
        dims = [{"Name": "Stack", "Value": stack}]
        client.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": "DeploymentDuration",
                    "Dimensions": dims,
                    "Value": duration_s,
                    "Unit": "Seconds",
                },
                {
                    "MetricName": "DeploymentSucceeded",
                    "Dimensions": dims,
                    "Value": 1.0 if succeeded else 0.0,
                    "Unit": "Count",
                },
                {
                    "MetricName": "DeploymentRollbacks",
                    "Dimensions": dims,
                    "Value": 1.0 if rolled_back else 0.0,
                    "Unit": "Count",
                },
            ],
        )
        return True
    except Exception as exc:  # noqa: BLE001 - must not mask the deployment result
        log.warning("could not put deployment metrics for %s: %s", stack, exc)
        return False


def notify(
    topic_arn: str | None,
    subject: str,
    payload: dict[str, Any],
    client: Any = None,
    aws_env: Mapping[str, str] | None = None,
) -> bool:
    """Publish a JSON notice to the alarm topic (the on-call's inbox)."""
    if not topic_arn:
        log.warning("no alarm topic to notify: %s", subject)
        return False
    try:
        client = client or make_client("sns", aws_env)
        client.publish(
            TopicArn=topic_arn,
            Subject=subject[:100],
            Message=json.dumps(payload, indent=2, default=str),
        )
        return True
    except Exception as exc:  # noqa: BLE001 - must not mask the deployment result
        log.warning("could not publish %r to %s: %s", subject, topic_arn, exc)
        return False
