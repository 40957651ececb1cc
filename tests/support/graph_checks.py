"""Invariants over a declared graph, shared by the example-based and property-based tests."""

from __future__ import annotations

import inspect
import json
from functools import cache
from typing import Any

import pulumi_aws

from components import naming
from components.backend import STACK_OUTPUTS
from tests.support.program_graph import Graph

OWNERSHIP_TAGS = ("project", "stack", "managed-by")
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"

NAME_RULES = {
    "aws:s3/bucket:Bucket": ("bucket", naming.is_valid_s3_bucket_name),
    "aws:dynamodb/table:Table": ("name", naming.is_valid_dynamodb_table_name),
    "aws:elasticbeanstalk/environment:Environment": ("name", naming.is_valid_eb_environment_name),
    "aws:elasticbeanstalk/application:Application": ("name", naming.is_valid_eb_application_name),
    "aws:iam/role:Role": ("name", naming.is_valid_iam_role_name),
    "aws:sns/topic:Topic": ("name", naming.is_valid_sns_topic_name),
    "aws:ses/configurationSet:ConfigurationSet": (
        "name",
        naming.is_valid_ses_configuration_set_name,
    ),
}


@cache
def is_taggable(type_token: str) -> bool:
    """Whether the pulumi_aws resource class for a type token accepts `tags`."""
    _, module_path, class_name = type_token.split(":")
    module = getattr(pulumi_aws, module_path.split("/")[0])
    cls = getattr(module, class_name)
    return "tags" in inspect.signature(cls._internal_init).parameters


def settings_map(graph: Graph) -> dict[tuple[str, str], str]:
    env = graph.one("aws:elasticbeanstalk/environment:Environment")
    return {(s["namespace"], s["name"]): s["value"] for s in env.inputs["settings"]}


def invalid_names(graph: Graph) -> list[str]:
    bad = []
    for typ, (prop, rule) in NAME_RULES.items():
        for resource in graph.of_type(typ):
            if not rule(resource.state[prop]):
                bad.append(f"{typ} {resource.state[prop]!r}")
    return bad


def untagged(graph: Graph, stack: str) -> list[str]:
    missing = []
    for resource in graph.custom:
        if not is_taggable(resource.typ):
            continue
        tags = resource.inputs.get("tags") or {}
        expected = {"project": "passport-photo-backend", "stack": stack, "managed-by": "pulumi"}
        if any(tags.get(k) != v for k, v in expected.items()):
            missing.append(f"{resource.typ} {resource.name} tags={tags}")
    return missing


def public_access_problems(graph: Graph) -> list[str]:
    """Buckets lacking any of the four blocks or TLS-only policy, or anything granting public."""
    problems = []
    blocks = {r.inputs["bucket"]: r.inputs for r in graph.of_type(_PAB)}
    policies = {r.inputs["bucket"]: json.loads(r.inputs["policy"]) for r in graph.of_type(_POLICY)}
    for bucket in graph.of_type("aws:s3/bucket:Bucket"):
        name = bucket.state["bucket"]
        block = blocks.get(name, {})
        for flag in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        ):
            if block.get(flag) is not True:
                problems.append(f"{name}: {flag} not set")
        if bucket.inputs.get("acl") not in (None, "private"):
            problems.append(f"{name}: acl {bucket.inputs['acl']}")
        policy = policies.get(name)
        if policy is None or not _denies_insecure_transport(policy):
            problems.append(f"{name}: no TLS-only policy")
        elif any(_public_allow(s) for s in policy["Statement"]):
            problems.append(f"{name}: policy allows a public principal")
    if graph.of_type("aws:s3/bucketAcl:BucketAcl"):
        problems.append("BucketAcl resources declared")
    return problems


def alarms(graph: Graph) -> dict[str, dict]:
    """The stack's CloudWatch alarms by short name (`latency-p99`), their declared inputs."""
    prefix = graph.one("passport:monitoring:Monitoring").name + "-"
    return {a.name.removeprefix(prefix): a.inputs for a in graph.of_type(ALARM)}


def missing_outputs(graph: Graph) -> list[str]:
    return [k for k in STACK_OUTPUTS if graph.outputs.get(k) in (None, "")] + [
        f"unexpected {k}" for k in graph.outputs if k not in STACK_OUTPUTS
    ]


_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
_POLICY = "aws:s3/bucketPolicy:BucketPolicy"


def _denies_insecure_transport(policy: dict[str, Any]) -> bool:
    return any(
        s["Effect"] == "Deny"
        and s["Action"] == "s3:*"
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for s in policy["Statement"]
    )


def _public_allow(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    return statement["Effect"] == "Allow" and principal in ("*", {"AWS": "*"})
