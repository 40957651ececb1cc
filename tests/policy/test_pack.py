"""The Pulumi policy pack's validations, fed pulumi_policy's own PolicyResource objects.

`pulumi preview --policy-pack policy` needs the CLI; what we can prove here is that the pack's
adapter hands the engine's resources to the rules correctly: compliant stacks pass, a removed
protection is reported against the right URN, and during a preview (ids unknown) buckets are
tied to their companions through property_dependencies alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import PolicyResource, PolicyResourceOptions, StackValidationArgs

from policy.pack import policies
from policy.rules import RULES, S3_BUCKET, S3_PAB
from tests.support.program_graph import build_graph, make_fake_bundle
from tests.support.stack_files import stack_file_config

OPTS = PolicyResourceOptions(
    protect=False,
    ignore_changes=[],
    delete_before_replace=None,
    aliases=[],
    custom_timeouts=None,
    additional_secret_outputs=[],
)


def engine_view(stack: str, tmp: Path, *, preview: bool) -> list[PolicyResource]:
    """The program's resources as the policy engine would hand them over.

    preview=True drops the computed bucket names (unknown before create), so only
    property_dependencies can tie a public-access block to its bucket.
    """
    graph = build_graph(stack, stack_file_config(stack), make_fake_bundle(tmp))
    urn = {
        r.name: f"urn:pulumi:{stack}::passport-photo-backend::{r.typ}::{r.name}"
        for r in graph.custom
    }
    resources: dict[str, PolicyResource] = {}
    buckets_by_id: dict[str, PolicyResource] = {}
    for r in graph.custom:
        props: dict[str, Any] = dict(r.state)
        if preview and r.typ == S3_BUCKET:
            props.pop("bucket", None)
        res = PolicyResource(r.typ, props, urn[r.name], r.name, OPTS, None, None, [], {})
        resources[r.name] = res
        if r.typ == S3_BUCKET:
            buckets_by_id[r.state["bucket"]] = res
    for r in graph.custom:
        bucket_ref = r.state.get("bucket") if r.typ != S3_BUCKET else None
        if bucket_ref in buckets_by_id:
            res = resources[r.name]
            res.property_dependencies["bucket"] = [buckets_by_id[bucket_ref]]
            if preview:
                res.props.pop("bucket", None)  # an unknown output during preview
    return list(resources.values())


def violations(resources: list[PolicyResource]) -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    for policy in policies():

        def report(message: str, urn: str | None = None, name: str = policy.name) -> None:
            found.append((name, message, urn or ""))

        policy.validate(StackValidationArgs(resources=resources), report)
    return found


def test_one_mandatory_policy_per_rule() -> None:
    assert [p.name for p in policies()] == [r.name for r in RULES]
    assert all(p.enforcement_level.value == "mandatory" for p in policies())


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("preview", [False, True], ids=["update", "preview"])
def test_compliant_stacks_pass(stack: str, preview: bool, tmp_path: Path) -> None:
    assert violations(engine_view(stack, tmp_path, preview=preview)) == []


@pytest.mark.parametrize("preview", [False, True], ids=["update", "preview"])
def test_a_missing_public_access_block_is_reported_on_the_bucket(
    preview: bool, tmp_path: Path
) -> None:
    resources = engine_view("staging", tmp_path, preview=preview)
    without = [r for r in resources if r.resource_type != S3_PAB]
    found = violations(without)
    assert {name for name, _, _ in found} == {"s3-public-access-block"}
    assert len(found) == 2  # both buckets
    assert all(
        urn.endswith(("artifacts", "media")) and "aws:s3/bucket:Bucket" in urn
        for _, _, urn in found
    )
    assert all("Fix: add a BucketPublicAccessBlock" in message for _, message, _ in found)
