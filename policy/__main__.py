"""The Pulumi policy pack: every rule of rules.py, mandatory, as one stack validation each.

Stack validations (rather than per-resource ones) because the S3 rules look at a bucket's
companion resources (public-access block, versioning, policy); `property_dependencies` ties them
to their bucket even during a preview, when ids are still unknown.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pulumi_policy import (  # noqa: E402
    EnforcementLevel,
    PolicyPack,
    StackValidationArgs,
    StackValidationPolicy,
)
from rules import RULES, Resource, Rule  # noqa: E402


def _resource(policy_resource) -> Resource:  # noqa: ANN001 - pulumi_policy.PolicyResource
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


def _policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation) -> None:  # noqa: ANN001
        graph = [_resource(r) for r in args.resources]
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


PolicyPack(
    name="passport-photo-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[_policy(rule) for rule in RULES],
)
