"""The project's policy rules, as plain functions over a resource graph.

No scanner covers a Pulumi Python program (checkov cannot read it; AWSGuard lacks these rules),
so we own them. They are written once, over a neutral `Resource` shape, and run in three places:
the Pulumi policy pack (`pulumi preview --policy-pack policy`), the sandbox `check` stage, and
the tests for every stack. Property names are the Pulumi inputs' camelCase names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from common.contracts import ResourceType

S3_BUCKET = ResourceType.S3_BUCKET
S3_PAB = ResourceType.S3_PUBLIC_ACCESS_BLOCK
S3_VERSIONING = ResourceType.S3_VERSIONING
S3_SSE = ResourceType.S3_ENCRYPTION
S3_POLICY = ResourceType.S3_BUCKET_POLICY
DDB_TABLE = ResourceType.DYNAMODB_TABLE
EB_ENV = ResourceType.EB_ENVIRONMENT
IAM_ROLE_POLICY = ResourceType.IAM_ROLE_POLICY
IAM_POLICY = ResourceType.IAM_POLICY
IAM_ATTACHMENT = ResourceType.IAM_ROLE_POLICY_ATTACHMENT

#: AWS-managed policies our roles may carry: EB's web tier (instances), enhanced health and
#: managed updates (service role). Anything else (AdministratorAccess, AmazonS3FullAccess, ...)
#: would bypass the least-privilege inline policy, so it is a violation.
ALLOWED_AWS_MANAGED_POLICIES = frozenset(
    {
        "AWSElasticBeanstalkWebTier",
        "service-role/AWSElasticBeanstalkEnhancedHealth",
        "AWSElasticBeanstalkManagedUpdatesCustomerRolePolicy",
    }
)

#: Resource types we declare that accept tags; every one must carry these keys.
TAGGABLE = frozenset(
    {
        S3_BUCKET,
        DDB_TABLE,
        EB_ENV,
        ResourceType.EB_APPLICATION,
        ResourceType.EB_APPLICATION_VERSION,
        ResourceType.IAM_ROLE,
        ResourceType.IAM_INSTANCE_PROFILE,
        IAM_POLICY,
        ResourceType.SNS_TOPIC,
        ResourceType.CLOUDWATCH_ALARM,
        ResourceType.LOG_GROUP,
        ResourceType.S3_BUCKET_OBJECT,
    }
)
REQUIRED_TAGS = ("project", "stack", "managed-by")

#: Services holding customer data: no wildcard action, no "*" resource for their actions.
DATA_SERVICES = ("s3", "dynamodb", "ses", "sns", "kms", "secretsmanager")


@dataclass(frozen=True)
class Resource:
    """One declared resource: its type, logical name, input props, and what its inputs name."""

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    id: str = ""
    #: property name → urns of the resources it depends on (from the policy SDK, when known)
    deps: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Violation:
    rule: str
    resource: str
    message: str
    remediation: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.resource}: {self.message} — fix: {self.remediation}"


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    remediation: str
    check: Callable[[Resource, Sequence[Resource]], list[str]]
    types: frozenset[str] | None = None  # None: every resource

    def applies(self, resource: Resource) -> bool:
        return self.types is None or resource.type in self.types


# -- helpers ------------------------------------------------------------------------------------


def _refers_to(child: Resource, prop: str, target: Resource) -> bool:
    """True when child's `prop` input names the target (by dependency urn, id or bucket name)."""
    if target.urn and target.urn in child.deps.get(prop, ()):
        return True
    value = child.props.get(prop)
    names = {target.id, target.props.get("bucket"), target.props.get("id")} - {None, ""}
    return value in names


def _companions(bucket: Resource, graph: Sequence[Resource], rtype: str) -> list[Resource]:
    return [r for r in graph if r.type == rtype and _refers_to(r, "bucket", bucket)]


def _policy_doc(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str) and value.strip():
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return {}
    return {}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _tags(resource: Resource) -> Mapping[str, Any]:
    return resource.props.get("tags") or {}


def _eb_setting(resource: Resource, namespace: str, name: str) -> str | None:
    for setting in resource.props.get("settings") or []:
        if setting.get("namespace") == namespace and setting.get("name") == name:
            return str(setting.get("value"))
    return None


# -- the rule checks ----------------------------------------------------------------------------


def _s3_public_access_block(bucket: Resource, graph: Sequence[Resource]) -> list[str]:
    blocks = _companions(bucket, graph, S3_PAB)
    if not blocks:
        return ["has no BucketPublicAccessBlock"]
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    off = [f for f in flags if not all(b.props.get(f) is True for b in blocks)]
    return [f"public access block does not set {', '.join(off)} to true"] if off else []


def _s3_versioning(bucket: Resource, graph: Sequence[Resource]) -> list[str]:
    for v in _companions(bucket, graph, S3_VERSIONING):
        if (v.props.get("versioningConfiguration") or {}).get("status") == "Enabled":
            return []
    return ["versioning is not Enabled"]


def _s3_encryption(bucket: Resource, graph: Sequence[Resource]) -> list[str]:
    for sse in _companions(bucket, graph, S3_SSE):
        for rule in sse.props.get("rules") or []:
            default = rule.get("applyServerSideEncryptionByDefault") or {}
            if default.get("sseAlgorithm") in ("AES256", "aws:kms", "aws:kms:dsse"):
                return []
    return ["has no default server-side encryption (AES256 or aws:kms)"]


def _s3_tls_only(bucket: Resource, graph: Sequence[Resource]) -> list[str]:
    for policy in _companions(bucket, graph, S3_POLICY):
        for stmt in _as_list(_policy_doc(policy.props.get("policy")).get("Statement")):
            cond = (stmt.get("Condition") or {}).get("Bool") or {}
            if (
                stmt.get("Effect") == "Deny"
                and str(cond.get("aws:SecureTransport")).lower() == "false"
                and stmt.get("Principal") in ("*", {"AWS": "*"})
            ):
                return []
    return ["has no bucket policy denying requests without TLS (aws:SecureTransport=false)"]


def _ddb_pitr(table: Resource, _: Sequence[Resource]) -> list[str]:
    enabled = (table.props.get("pointInTimeRecovery") or {}).get("enabled") is True
    return [] if enabled else ["point-in-time recovery is not enabled"]


def _ddb_encryption(table: Resource, _: Sequence[Resource]) -> list[str]:
    enabled = (table.props.get("serverSideEncryption") or {}).get("enabled") is True
    return [] if enabled else ["server-side encryption (KMS) is not enabled"]


def _ddb_prod_deletion_protection(table: Resource, _: Sequence[Resource]) -> list[str]:
    if _tags(table).get("stack") != "prod":
        return []
    if table.props.get("deletionProtectionEnabled") is True:
        return []
    return ["is a prod table without deletion protection"]


def _eb_enhanced_health(env: Resource, _: Sequence[Resource]) -> list[str]:
    system = _eb_setting(env, "aws:elasticbeanstalk:healthreporting:system", "SystemType")
    return [] if system == "enhanced" else [f"health reporting is {system or 'basic (unset)'}"]


def _eb_managed_updates(env: Resource, _: Sequence[Resource]) -> list[str]:
    enabled = _eb_setting(env, "aws:elasticbeanstalk:managedactions", "ManagedActionsEnabled")
    level = _eb_setting(env, "aws:elasticbeanstalk:managedactions:platformupdate", "UpdateLevel")
    problems = []
    if str(enabled).lower() != "true":
        problems.append("managed platform updates are not enabled")
    if level not in ("minor", "patch"):
        problems.append("managed update level is not set (minor or patch)")
    return problems


def _iam_no_wildcards(policy: Resource, _: Sequence[Resource]) -> list[str]:
    problems = []
    for stmt in _as_list(_policy_doc(policy.props.get("policy")).get("Statement")):
        if stmt.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in _as_list(stmt.get("Action"))]
        resources = [str(r) for r in _as_list(stmt.get("Resource"))]
        for action in actions:
            service = action.split(":", 1)[0].lower()
            if action == "*" or action.endswith(":*"):
                problems.append(f"allows wildcard action {action!r}")
            elif service in DATA_SERVICES and "*" in resources:
                problems.append(f"allows {action} on Resource '*'")
            elif service == "ses" and any(r.endswith(":identity/*") for r in resources):
                # Every identity of the account is acceptable only because SES's sandbox
                # authorises against the recipient's identity too, and only when the sender
                # is pinned: with ses:FromAddress the role still sends as us and nobody else.
                pinned = (stmt.get("Condition") or {}).get("StringEquals", {})
                if not pinned.get("ses:FromAddress"):
                    problems.append(
                        f"allows {action} on every SES identity without a ses:FromAddress "
                        "condition (anyone's address could be spoofed)"
                    )
    return problems


def _iam_managed_allowlist(attachment: Resource, _: Sequence[Resource]) -> list[str]:
    arn = attachment.props.get("policyArn")
    if not isinstance(arn, str):
        return []  # unknown at preview time; the pack runs again at `up`, when it is known
    prefix, sep, name = arn.partition(":iam::aws:policy/")
    if sep and name not in ALLOWED_AWS_MANAGED_POLICIES:
        return [f"attaches the AWS-managed policy {name!r}, which is not on the allowlist"]
    return []


def _required_tags(resource: Resource, _: Sequence[Resource]) -> list[str]:
    missing = [t for t in REQUIRED_TAGS if not _tags(resource).get(t)]
    return [f"is missing tags {', '.join(missing)}"] if missing else []


RULES: tuple[Rule, ...] = (
    Rule(
        "s3-public-access-block",
        "S3 buckets block all public access (checkov CKV2_AWS_6)",
        "add a BucketPublicAccessBlock with all four flags true (components/storage.py)",
        _s3_public_access_block,
        frozenset({S3_BUCKET}),
    ),
    Rule(
        "s3-versioning",
        "S3 buckets are versioned (CKV_AWS_21)",
        "add BucketVersioning with status Enabled",
        _s3_versioning,
        frozenset({S3_BUCKET}),
    ),
    Rule(
        "s3-encryption",
        "S3 buckets have default encryption (CKV_AWS_145)",
        "add BucketServerSideEncryptionConfiguration (AES256 or aws:kms)",
        _s3_encryption,
        frozenset({S3_BUCKET}),
    ),
    Rule(
        "s3-tls-only",
        "S3 buckets deny requests that do not use TLS",
        "add a bucket policy statement: Deny * when aws:SecureTransport is false",
        _s3_tls_only,
        frozenset({S3_BUCKET}),
    ),
    Rule(
        "dynamodb-pitr",
        "DynamoDB tables have point-in-time recovery (CKV_AWS_28)",
        "set point_in_time_recovery.enabled=True (components/datastore.py)",
        _ddb_pitr,
        frozenset({DDB_TABLE}),
    ),
    Rule(
        "dynamodb-encryption",
        "DynamoDB tables use KMS server-side encryption",
        "set server_side_encryption.enabled=True",
        _ddb_encryption,
        frozenset({DDB_TABLE}),
    ),
    Rule(
        "dynamodb-prod-deletion-protection",
        "prod DynamoDB tables have deletion protection",
        "set deletion_protection_enabled=True for prod (deletionProtection in Pulumi.prod.yaml)",
        _ddb_prod_deletion_protection,
        frozenset({DDB_TABLE}),
    ),
    Rule(
        "eb-enhanced-health",
        "Elastic Beanstalk reports enhanced health (CKV_AWS_312)",
        "set aws:elasticbeanstalk:healthreporting:system SystemType=enhanced",
        _eb_enhanced_health,
        frozenset({EB_ENV}),
    ),
    Rule(
        "eb-managed-updates",
        "Elastic Beanstalk applies managed platform updates (CKV_AWS_340)",
        "set aws:elasticbeanstalk:managedactions ManagedActionsEnabled=true and UpdateLevel",
        _eb_managed_updates,
        frozenset({EB_ENV}),
    ),
    Rule(
        "iam-no-wildcards",
        "IAM policies grant no wildcard actions and no '*' resource on data services (cfn-nag F3)",
        "scope the statement to this stack's table/bucket/identity ARNs and name the actions",
        _iam_no_wildcards,
        frozenset({IAM_ROLE_POLICY, IAM_POLICY}),
    ),
    Rule(
        "iam-managed-policy-allowlist",
        "roles carry only the AWS-managed policies EB needs "
        f"({', '.join(sorted(ALLOWED_AWS_MANAGED_POLICIES))})",
        "grant extra access in the scoped inline policy (components/iam_policies.py) instead",
        _iam_managed_allowlist,
        frozenset({IAM_ATTACHMENT}),
    ),
    Rule(
        "required-tags",
        f"taggable resources carry the tags {', '.join(REQUIRED_TAGS)}",
        "pass the stack's tags (components/tagging.py) to the resource",
        _required_tags,
        TAGGABLE,
    ),
)


def evaluate(graph: Iterable[Resource], rules: Sequence[Rule] = RULES) -> list[Violation]:
    """Every violation of every rule in the graph (empty list: compliant)."""
    resources = list(graph)
    violations = []
    for rule in rules:
        for resource in resources:
            if rule.applies(resource):
                for message in rule.check(resource, resources):
                    violations.append(
                        Violation(
                            rule.name, f"{resource.type} {resource.name}", message, rule.remediation
                        )
                    )
    return violations


def rule_named(name: str) -> Rule:
    for rule in RULES:
        if rule.name == name:
            return rule
    raise KeyError(f"no policy rule {name!r}; rules: {', '.join(r.name for r in RULES)}")


def resources_from_sandbox(graph: Mapping[str, Mapping[str, Any]]) -> list[Resource]:
    """The sandbox's recorded graph (sandbox.json "resources") as the rules see it."""
    return [
        Resource(
            type=str(entry["type"]),
            name=str(entry.get("name", key)),
            props=entry.get("state") or {},
            id=str(entry.get("id") or ""),
        )
        for key, entry in graph.items()
        if not str(entry["type"]).startswith(("passport:", "pulumi:"))
    ]
