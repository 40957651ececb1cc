"""Elastic Beanstalk: application, application version, environment.

moto's EB API knows applications and environments only (no versions, updates or option
settings), so the sandbox keeps EB state itself (sandbox.json, via EnvironmentRunner) and
also registers the application and environment in moto, where `describe_*` calls find them.
The environment is realised by running the version's bundle locally (sandbox/environment.py).
"""

from __future__ import annotations

import hashlib
from typing import Any

from common.aws_errors import error_code
from common.contracts import ResourceType
from sandbox.realise.context import RealiseContext

ENV_TYPE = ResourceType.EB_ENVIRONMENT
VERSION_TYPE = ResourceType.EB_APPLICATION_VERSION


def application(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    app_name = ctx.physical_name(ResourceType.EB_APPLICATION, name, inputs, max_len=100)
    eb = ctx.client("elasticbeanstalk")
    if not eb.describe_applications(ApplicationNames=[app_name])["Applications"]:
        eb.create_application(ApplicationName=app_name, Description=inputs.get("description", ""))
    lifecycle = (inputs.get("appversionLifecycle") or {}) if isinstance(inputs, dict) else {}
    ctx.services.record_application(
        app_name,
        inputs.get("description", ""),
        max_versions=lifecycle.get("maxCount"),
        delete_source=bool(lifecycle.get("deleteSourceFromS3")),
    )
    return app_name, {
        **inputs,
        "name": app_name,
        "arn": ctx.arn("elasticbeanstalk", f"application/{app_name}"),
        "tagsAll": ctx.tags_all(inputs),
    }


def application_version(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    label = ctx.physical_name(VERSION_TYPE, name, inputs, max_len=100)
    app_name = str(inputs["application"])
    # Pulumi calls CreateApplicationVersion only for a new resource or a replacement (a new
    # label); EB refuses a label that already exists in the application, and so do we.
    before = ctx.deployed.get(f"{VERSION_TYPE}::{name}") or {}
    creating = before.get("id") != label
    ctx.services.record_version(
        app_name, label, str(inputs["bucket"]), str(inputs["key"]), create=creating
    )
    return label, {
        **inputs,
        "name": label,
        "arn": ctx.arn("elasticbeanstalk", f"applicationversion/{app_name}/{label}"),
        "tagsAll": ctx.tags_all(inputs),
    }


def environment(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    env_name = ctx.physical_name(ENV_TYPE, name, inputs, max_len=40)
    app_name = str(inputs["application"])
    label = inputs.get("version")
    if not label:
        raise ValueError(f"environment {env_name} has no application version to run")
    eb = ctx.client("elasticbeanstalk")
    try:
        found = eb.describe_environments(ApplicationName=app_name, EnvironmentNames=[env_name])
        exists = bool(found["Environments"])
    except Exception as exc:
        if error_code(exc) not in ("InvalidParameterValue", "ResourceNotFoundException"):
            raise
        exists = False
    if not exists:
        eb.create_environment(
            ApplicationName=app_name,
            EnvironmentName=env_name,
            SolutionStackName=inputs.get("solutionStackName") or "sandbox",
        )
    _stream_log_groups(ctx, env_name, list(inputs.get("settings") or []))
    settings = served_settings(list(inputs.get("settings") or []))
    live = ctx.services.deploy(env_name, app_name, str(label), settings)
    address = ctx.services.proxy_address()
    env_id = "e-" + hashlib.sha256(f"{ctx.stack}/{env_name}".encode()).hexdigest()[:10]
    # EB reports an application load balancer by its ARN (what a WAF association needs).
    alb = ctx.arn("elasticloadbalancing", f"loadbalancer/app/awseb-{env_id[2:]}/{env_id[2:]}")
    return env_id, {
        **inputs,
        "name": env_name,
        "arn": ctx.arn("elasticbeanstalk", f"environment/{app_name}/{env_name}"),
        "cname": address,
        "endpointUrl": address,
        "version": live["version"],
        "allSettings": list(inputs.get("settings") or []),
        "autoscalingGroups": [],
        "instances": [],
        "launchConfigurations": [],
        "loadBalancers": [alb],
        "queues": [],
        "triggers": [],
        "tagsAll": ctx.tags_all(inputs),
    }


STREAMED_LOGS = ("web.stdout.log", "nginx/access.log", "nginx/error.log", "eb-engine.log")
"""The instance logs EB streams on Amazon Linux 2023 (web.stdout.log is the app's stdout)."""


def _stream_log_groups(ctx: RealiseContext, env_name: str, settings: list[dict[str, Any]]) -> None:
    """With StreamLogs on, EB creates /aws/elasticbeanstalk/<env>/var/log/<file> groups with the
    configured retention: metric filters on them need the group to exist, as on AWS."""
    logs_ns = "aws:elasticbeanstalk:cloudwatch:logs"
    opts = {s.get("name"): s.get("value") for s in settings if s.get("namespace") == logs_ns}
    if str(opts.get("StreamLogs", "false")).lower() != "true":
        return
    client = ctx.client("logs")
    for log in STREAMED_LOGS:
        group = f"/aws/elasticbeanstalk/{env_name}/var/log/{log}"
        try:
            client.create_log_group(logGroupName=group)
        except Exception as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
        if opts.get("RetentionInDays"):
            client.put_retention_policy(
                logGroupName=group, retentionInDays=int(opts["RetentionInDays"])
            )


def served_settings(settings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the proxy's host to ALLOWED_HOSTS: it is the sandbox's CNAME (on AWS the
    program allows the region's elasticbeanstalk.com suffix for the real one)."""
    out = []
    for item in settings:
        if (
            item.get("namespace") == "aws:elasticbeanstalk:application:environment"
            and item.get("name") == "ALLOWED_HOSTS"
        ):
            item = {**item, "value": f"{item.get('value')},127.0.0.1"}
        out.append(item)
    return out


HANDLERS = {
    ResourceType.EB_APPLICATION: application,
    VERSION_TYPE: application_version,
    ENV_TYPE: environment,
}


def delete_application_version(ctx: RealiseContext, entry: dict[str, Any]) -> None:
    """What the provider's Delete does for a replaced/removed version: DeleteApplicationVersion
    with DeleteSourceBundle false (the bundle stays in S3 for rollbacks); EB refuses it while an
    environment runs the label."""
    state = entry.get("state") or {}
    ctx.services.delete_version(str(state.get("application")), str(entry.get("id")))


DELETERS = {VERSION_TYPE: delete_application_version}
