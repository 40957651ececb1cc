"""S3: buckets and the separate configuration resources pulumi-aws 7 attaches to them."""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from pathlib import Path
from typing import Any

from common.aws_errors import error_code
from common.contracts import ResourceType
from sandbox.realise.context import RealiseContext, pascal, tag_list

RULE_KEYS = {"id": "ID"}


def _bucket_name(inputs: dict[str, Any]) -> str:
    return str(inputs["bucket"])


def bucket(ctx: RealiseContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    s3 = ctx.client("s3")
    bucket_name = ctx.physical_name(
        ResourceType.S3_BUCKET, name, inputs, "bucket", lower=True, max_len=63
    )
    try:
        if ctx.region == "us-east-1":
            s3.create_bucket(Bucket=bucket_name)
        else:
            s3.create_bucket(
                Bucket=bucket_name,
                CreateBucketConfiguration={"LocationConstraint": ctx.region},
            )
    except Exception as exc:
        if error_code(exc) != "BucketAlreadyOwnedByYou":
            raise
    tags = inputs.get("tags") or {}
    if tags:
        s3.put_bucket_tagging(Bucket=bucket_name, Tagging={"TagSet": tag_list(tags)})
    else:
        s3.delete_bucket_tagging(Bucket=bucket_name)
    return bucket_name, {
        **inputs,
        "bucket": bucket_name,
        "arn": f"arn:aws:s3:::{bucket_name}",
        "bucketDomainName": f"{bucket_name}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{bucket_name}.s3.{ctx.region}.amazonaws.com",
        "region": ctx.region,
        "tagsAll": ctx.tags_all(inputs),
    }


def versioning(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    config = inputs.get("versioningConfiguration") or {}
    ctx.client("s3").put_bucket_versioning(
        Bucket=_bucket_name(inputs),
        VersioningConfiguration={"Status": config.get("status", "Enabled")},
    )
    return _bucket_name(inputs), dict(inputs)


def encryption(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    rules = [
        pascal(rule, {"kmsMasterKeyId": "KMSMasterKeyID", "sseAlgorithm": "SSEAlgorithm"})
        for rule in inputs.get("rules") or []
    ]
    ctx.client("s3").put_bucket_encryption(
        Bucket=_bucket_name(inputs), ServerSideEncryptionConfiguration={"Rules": rules}
    )
    return _bucket_name(inputs), dict(inputs)


def public_access_block(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    state = {flag: bool(inputs.get(flag, False)) for flag in flags}
    ctx.client("s3").put_public_access_block(
        Bucket=_bucket_name(inputs),
        PublicAccessBlockConfiguration={f[0].upper() + f[1:]: on for f, on in state.items()},
    )
    return _bucket_name(inputs), {**inputs, **state}


def policy(ctx: RealiseContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ctx.client("s3").put_bucket_policy(Bucket=_bucket_name(inputs), Policy=str(inputs["policy"]))
    return _bucket_name(inputs), dict(inputs)


def lifecycle(ctx: RealiseContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rules = []
    for rule in inputs.get("rules") or []:
        converted = pascal(rule, RULE_KEYS)
        if "Filter" not in converted and "Prefix" not in converted:
            converted["Filter"] = {"Prefix": ""}
        rules.append(converted)
    ctx.client("s3").put_bucket_lifecycle_configuration(
        Bucket=_bucket_name(inputs), LifecycleConfiguration={"Rules": rules}
    )
    return _bucket_name(inputs), dict(inputs)


def cors(ctx: RealiseContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rules = [pascal(rule, {**RULE_KEYS, "corsRules": "CORSRules"}) for rule in inputs["corsRules"]]
    ctx.client("s3").put_bucket_cors(
        Bucket=_bucket_name(inputs), CORSConfiguration={"CORSRules": rules}
    )
    return _bucket_name(inputs), dict(inputs)


def ownership_controls(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    rule = inputs.get("rule") or {}
    ctx.client("s3").put_bucket_ownership_controls(
        Bucket=_bucket_name(inputs),
        OwnershipControls={
            "Rules": [{"ObjectOwnership": rule.get("objectOwnership", "BucketOwnerEnforced")}]
        },
    )
    return _bucket_name(inputs), dict(inputs)


def _body(inputs: dict[str, Any]) -> bytes:
    source = inputs.get("source")
    if source is not None:
        path = getattr(source, "path", None)
        if path is None:
            raise ValueError(f"object source must be a FileAsset, got {type(source).__name__}")
        return Path(path).read_bytes()
    if inputs.get("contentBase64") is not None:
        return base64.b64decode(inputs["contentBase64"])
    return str(inputs.get("content", "")).encode()


def bucket_object(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    s3 = ctx.client("s3")
    bucket_name = _bucket_name(inputs)
    key = str(inputs.get("key") or name)
    body = _body(inputs)
    etag = hashlib.md5(body, usedforsecurity=False).hexdigest()
    version_id = None
    try:
        head = s3.head_object(Bucket=bucket_name, Key=key)
        if head["ETag"].strip('"') == etag:
            version_id = head.get("VersionId")
    except Exception as exc:
        if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
            raise
    if version_id is None:
        extra: dict[str, Any] = {}
        if inputs.get("contentType"):
            extra["ContentType"] = inputs["contentType"]
        if inputs.get("serverSideEncryption"):
            extra["ServerSideEncryption"] = inputs["serverSideEncryption"]
        if inputs.get("checksumAlgorithm"):
            # botocore computes the checksum and S3 (moto too) checks it against the body.
            extra["ChecksumAlgorithm"] = inputs["checksumAlgorithm"]
        if inputs.get("tags"):
            extra["Tagging"] = urllib.parse.urlencode(inputs["tags"])
        put = s3.put_object(Bucket=bucket_name, Key=key, Body=body, **extra)
        version_id = put.get("VersionId")
    state = {k: v for k, v in inputs.items() if k != "source"}
    source = inputs.get("source")
    if source is not None:
        state["source"] = source
    return f"{bucket_name}/{key}", {
        **state,
        "key": key,
        "etag": etag,
        "versionId": version_id or "",
        "arn": f"arn:aws:s3:::{bucket_name}/{key}",
        "tagsAll": ctx.tags_all(inputs),
    }


HANDLERS = {
    ResourceType.S3_BUCKET: bucket,
    ResourceType.S3_BUCKET_V2: bucket,
    ResourceType.S3_VERSIONING: versioning,
    ResourceType.S3_VERSIONING_V2: versioning,
    ResourceType.S3_ENCRYPTION: encryption,
    ResourceType.S3_ENCRYPTION_V2: encryption,
    ResourceType.S3_PUBLIC_ACCESS_BLOCK: public_access_block,
    ResourceType.S3_BUCKET_POLICY: policy,
    ResourceType.S3_LIFECYCLE: lifecycle,
    ResourceType.S3_LIFECYCLE_V2: lifecycle,
    ResourceType.S3_CORS: cors,
    ResourceType.S3_CORS_V2: cors,
    ResourceType.S3_OWNERSHIP_CONTROLS: ownership_controls,
    ResourceType.S3_BUCKET_OBJECT_V1: bucket_object,
    ResourceType.S3_BUCKET_OBJECT: bucket_object,
}
