"""The policy pack's policies: every rule of rules.py as a mandatory stack validation.

Stack validations (rather than per-resource ones) because the S3 rules look at a bucket's
companion resources (public-access block, versioning, policy); `property_dependencies` ties them
to their bucket even during a preview, when ids are still unknown. Kept apart from __main__.py,
whose PolicyPack() call serves gRPC forever, so tests can run these validations directly.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, StackValidationArgs, StackValidationPolicy

from policy.rules import RULES, Resource, Rule

PACK_NAME = "passport-photo-guardrails"


def to_resource(policy_resource: Any) -> Resource:
    """A pulumi_policy.PolicyResource as the rules see it."""
    deps = {
        prop: [dep.urn for dep in deps]
        for prop, deps in (policy_resource.property_dependencies or {}).items()
    }
    return Resource(
        type=policy_resource.resource_type,
        name=policy_resource.name,
        props=policy_resource.props,
        urn=policy_resource.urn,
        id=str(policy_resource.props.get("id") or ""),
        deps=deps,
    )


def stack_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: Any) -> None:
        graph = [to_resource(r) for r in args.resources]
        for resource in graph:
            if rule.applies(resource):
                for message in rule.check(resource, graph):
                    report_violation(f"{message}. Fix: {rule.remediation}", resource.urn)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        remediation_steps=rule.remediation,
    )


def policies() -> list[StackValidationPolicy]:
    return [stack_policy(rule) for rule in RULES]
