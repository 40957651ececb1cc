"""S3: both buckets locked down; media expires; CORS only from config; prod buckets protected."""

from __future__ import annotations

import json
from typing import Any

from components.storage import Storage, StorageArgs
from tests.support.graph_checks import public_access_problems
from tests.support.program_graph import Graph, run_mocked

BUCKET = "aws:s3/bucket:Bucket"


def by_bucket(graph: Graph, typ: str) -> dict[str, Any]:
    return {r.inputs["bucket"]: r.inputs for r in graph.of_type(typ)}


def test_both_buckets_versioned_encrypted_private_and_tls_only(stack_graph: Graph) -> None:
    buckets = [b.state["bucket"] for b in stack_graph.of_type(BUCKET)]
    assert len(buckets) == 2
    versioning = by_bucket(stack_graph, "aws:s3/bucketVersioning:BucketVersioning")
    encryption = by_bucket(
        stack_graph,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    )
    for name in buckets:
        assert versioning[name]["versioningConfiguration"]["status"] == "Enabled"
        default = encryption[name]["rules"][0]["applyServerSideEncryptionByDefault"]
        assert default["sseAlgorithm"] == "AES256"
    assert public_access_problems(stack_graph) == []


def test_tls_policy_denies_plain_http_on_bucket_and_objects(stack_graph: Graph) -> None:
    for policy in stack_graph.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        (statement,) = json.loads(policy.inputs["policy"])["Statement"]
        arn = f"arn:aws:s3:::{policy.inputs['bucket']}"
        assert statement["Effect"] == "Deny" and statement["Principal"] == "*"
        assert statement["Resource"] == [arn, f"{arn}/*"]
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_lifecycle_expires_photos_and_old_bundle_versions(stack_graphs: dict[str, Graph]) -> None:
    for stack, days in (("dev", 1), ("staging", 7), ("prod", 7)):
        graph = stack_graphs[stack]
        rules = {
            r.name.rsplit("-", 2)[-2]: r.inputs["rules"]
            for r in graph.of_type(
                "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
            )
        }
        media = {rule["id"]: rule for rule in rules["media"]}
        assert media["expire-photos"]["expiration"]["days"] == days
        assert media["expire-photos"]["noncurrentVersionExpiration"]["noncurrentDays"] == 1
        assert media["remove-expired-delete-markers"]["expiration"]["expiredObjectDeleteMarker"]
        (artifacts,) = rules["artifacts"]
        assert artifacts["noncurrentVersionExpiration"]["noncurrentDays"] == 30
        assert "expiration" not in artifacts  # the live bundle must never expire
        for rule in [*rules["media"], *rules["artifacts"]]:
            assert rule["status"] == "Enabled" and rule["filter"] == {}


def test_media_cors_comes_from_config(stack_graphs: dict[str, Graph]) -> None:
    for graph in stack_graphs.values():
        (cors,) = graph.of_type("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration")
        assert cors.inputs["bucket"] == graph.outputs["media_bucket"]
        (rule,) = cors.inputs["corsRules"]
        assert rule["allowedOrigins"] == graph.outputs["cors_allowed_origins"]
        assert rule["allowedMethods"] == ["GET", "HEAD"]


def test_protection_follows_deletion_protection(stack_graphs: dict[str, Graph]) -> None:
    for stack, protected in (("dev", False), ("staging", False), ("prod", True)):
        for bucket in stack_graphs[stack].of_type(BUCKET):
            assert bucket.options["protect"] is protected
            assert bucket.options["retain_on_delete"] is protected
            assert bucket.inputs["forceDestroy"] is (not protected)


def test_storage_component_alone_without_cors() -> None:
    """No origins configured means no CORS resource at all (S3 rejects an empty rule)."""

    def program() -> Any:
        storage = Storage(
            "solo",
            StorageArgs(
                tags={"project": "p"},
                cors_allowed_origins=(),
                photo_retention_days=3,
                deletion_protection=False,
            ),
        )
        return storage.media_bucket.bucket

    mocks, media = run_mocked("dev", {}, program)
    graph = Graph(mocks.registered(), {}, [], [])
    assert media == "solo-media-" + media.rsplit("-", 1)[1]
    assert graph.of_type("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration") == []
    component = graph.one("passport:storage:Storage")
    assert all(
        r.options["parent"].endswith("passport:storage:Storage::solo") for r in graph.custom
    ), "every child must be parented to the component"
    assert component.name == "solo"
