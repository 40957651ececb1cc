"""Policy rules over the real program's resource graph, for every stack.

`test_stack_is_compliant` is the guard: drop a protection from a component and it fails with the
rule's name and message. The per-rule tests prove each rule fires on exactly the protection it
guards (removed from an otherwise compliant graph) and stays quiet otherwise.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from policy.rules import (
    DDB_TABLE,
    EB_ENV,
    IAM_ATTACHMENT,
    IAM_ROLE_POLICY,
    RULES,
    S3_BUCKET,
    S3_PAB,
    S3_POLICY,
    S3_SSE,
    S3_VERSIONING,
    Resource,
    evaluate,
)
from tests.support.program_graph import build_graph, make_fake_bundle
from tests.support.stack_files import stack_file_config

STACKS = ("dev", "staging", "prod")


def policy_graph(stack: str, tmp: Path) -> list[Resource]:
    """The program's declared resources as the policy rules see them (inputs + computed ids)."""
    graph = build_graph(stack, stack_file_config(stack), make_fake_bundle(tmp))
    return [
        Resource(type=r.typ, name=r.name, props=r.state, id=str(r.state.get("bucket") or ""))
        for r in graph.custom
    ]


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Resource]]:
    return {s: policy_graph(s, tmp_path_factory.mktemp(s)) for s in STACKS}


@pytest.mark.parametrize("stack", STACKS)
def test_stack_is_compliant(graphs: dict[str, list[Resource]], stack: str) -> None:
    violations = evaluate(graphs[stack])
    assert not violations, "\n".join(str(v) for v in violations)


def _edit(
    graph: list[Resource],
    rtype: str,
    change: Callable[[dict], dict | None],
    only_first: bool = True,
) -> list[Resource]:
    """A copy of graph with change() applied to the props of the first resource of rtype.

    change returns the new props, or None to drop the resource altogether.
    """
    out, done = [], False
    for r in graph:
        if r.type == rtype and not (done and only_first):
            done = True
            props = change(copy.deepcopy(dict(r.props)))
            if props is None:
                continue
            r = Resource(r.type, r.name, props, r.urn, r.id, r.deps)
        out.append(r)
    assert done, f"no {rtype} in graph"
    return out


def _set(path: list[str], value: object) -> Callable[[dict], dict]:
    def change(props: dict) -> dict:
        node = props
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
        return props

    return change


def _no_tls_statement(props: dict) -> dict:
    doc = json.loads(props["policy"]) if isinstance(props["policy"], str) else props["policy"]
    doc["Statement"] = [
        s for s in doc["Statement"] if "aws:SecureTransport" not in json.dumps(s.get("Condition"))
    ]
    props["policy"] = json.dumps(doc)
    return props


def _wildcard_statement(resource: str, action: str) -> Callable[[dict], dict]:
    def change(props: dict) -> dict:
        doc = json.loads(props["policy"]) if isinstance(props["policy"], str) else props["policy"]
        doc["Statement"].append({"Effect": "Allow", "Action": action, "Resource": resource})
        props["policy"] = json.dumps(doc)
        return props

    return change


def _unpinned_sender(props: dict) -> dict:
    """The SendMail statement without its ses:FromAddress condition."""
    doc = json.loads(props["policy"]) if isinstance(props["policy"], str) else props["policy"]
    for stmt in doc["Statement"]:
        if stmt.get("Sid") == "SendMail":
            stmt.pop("Condition")
    props["policy"] = json.dumps(doc)
    return props


def _drop_eb_setting(namespace: str, name: str) -> Callable[[dict], dict]:
    def change(props: dict) -> dict:
        props["settings"] = [
            s for s in props["settings"] if not (s["namespace"] == namespace and s["name"] == name)
        ]
        return props

    return change


def _drop_tag(tag: str) -> Callable[[dict], dict]:
    def change(props: dict) -> dict:
        props["tags"] = {k: v for k, v in (props.get("tags") or {}).items() if k != tag}
        return props

    return change


VIOLATIONS = {
    "s3-public-access-block": [
        (S3_PAB, lambda p: None),
        (S3_PAB, _set(["blockPublicPolicy"], False)),
        (S3_PAB, _set(["restrictPublicBuckets"], False)),
    ],
    "s3-versioning": [
        (S3_VERSIONING, lambda p: None),
        (S3_VERSIONING, _set(["versioningConfiguration", "status"], "Suspended")),
    ],
    "s3-encryption": [(S3_SSE, lambda p: None), (S3_SSE, _set(["rules"], []))],
    "s3-tls-only": [(S3_POLICY, lambda p: None), (S3_POLICY, _no_tls_statement)],
    "dynamodb-pitr": [(DDB_TABLE, _set(["pointInTimeRecovery", "enabled"], False))],
    "dynamodb-encryption": [(DDB_TABLE, _set(["serverSideEncryption", "enabled"], False))],
    "eb-enhanced-health": [
        (EB_ENV, _drop_eb_setting("aws:elasticbeanstalk:healthreporting:system", "SystemType"))
    ],
    "eb-managed-updates": [
        (EB_ENV, _drop_eb_setting("aws:elasticbeanstalk:managedactions", "ManagedActionsEnabled"))
    ],
    "iam-no-wildcards": [
        (IAM_ROLE_POLICY, _wildcard_statement("*", "dynamodb:GetItem")),
        (IAM_ROLE_POLICY, _wildcard_statement("arn:aws:s3:::x/*", "s3:*")),
        (IAM_ROLE_POLICY, _wildcard_statement("arn:aws:s3:::x/*", "*")),
        (IAM_ROLE_POLICY, _unpinned_sender),
    ],
    "required-tags": [(S3_BUCKET, _drop_tag("stack")), (DDB_TABLE, _drop_tag("project"))],
    "iam-managed-policy-allowlist": [
        (IAM_ATTACHMENT, _set(["policyArn"], "arn:aws:iam::aws:policy/AdministratorAccess")),
        (IAM_ATTACHMENT, _set(["policyArn"], "arn:aws-cn:iam::aws:policy/AmazonS3FullAccess")),
    ],
}


def test_every_rule_has_violation_cases() -> None:
    assert {r.name for r in RULES} - {"dynamodb-prod-deletion-protection"} == set(VIOLATIONS)


@pytest.mark.parametrize(
    ("rule", "case"),
    [(rule, i) for rule, cases in VIOLATIONS.items() for i in range(len(cases))],
)
def test_rule_fires_on_its_violation_only(
    graphs: dict[str, list[Resource]], rule: str, case: int
) -> None:
    rtype, change = VIOLATIONS[rule][case]
    broken = _edit(graphs["staging"], rtype, change)
    fired = {v.rule for v in evaluate(broken)}
    assert fired == {rule}, f"expected only {rule} to fire, got {fired}"
    (first, *_) = [v for v in evaluate(broken) if v.rule == rule]
    assert first.remediation and first.message


def test_prod_tables_need_deletion_protection(graphs: dict[str, list[Resource]]) -> None:
    broken = _edit(graphs["prod"], DDB_TABLE, _set(["deletionProtectionEnabled"], False))
    fired = [v for v in evaluate(broken) if v.rule == "dynamodb-prod-deletion-protection"]
    assert len(fired) == 1 and "prod table" in fired[0].message


def test_dev_tables_may_skip_deletion_protection(graphs: dict[str, list[Resource]]) -> None:
    relaxed = _edit(graphs["dev"], DDB_TABLE, _set(["deletionProtectionEnabled"], False))
    assert not evaluate(relaxed)


def test_a_second_bucket_without_protections_is_caught(graphs: dict[str, list[Resource]]) -> None:
    bare = Resource(
        S3_BUCKET,
        "rogue",
        {"bucket": "rogue-1234567", "tags": {"project": "p", "stack": "dev", "managed-by": "x"}},
        id="rogue-1234567",
    )
    fired = {v.rule for v in evaluate([*graphs["dev"], bare]) if "rogue" in v.resource}
    assert fired == {"s3-public-access-block", "s3-versioning", "s3-encryption", "s3-tls-only"}


@pytest.mark.parametrize(
    ("rtype", "known"),
    [
        (
            IAM_ROLE_POLICY,
            {
                "policy": json.dumps(
                    {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
                )
            },
        ),
        (IAM_ATTACHMENT, {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    ],
)
def test_values_unknown_at_preview_are_judged_at_up(rtype: str, known: dict) -> None:
    """In a preview an Output-built policy / ARN is absent (unknown): no verdict yet. The pack
    runs again at `up`, when the value is known, and must fire then (issue 10, item 8)."""
    tags = {"project": "p", "stack": "s", "managed-by": "pulumi"}
    at_preview = Resource(rtype, "x", {"tags": tags})
    at_up = Resource(rtype, "x", {"tags": tags, **known})
    assert evaluate([at_preview]) == []
    assert {v.rule for v in evaluate([at_up])} & {
        "iam-no-wildcards",
        "iam-managed-policy-allowlist",
    }
