"""S3: buckets and the separate configuration resources pulumi-aws 7 attaches to them."""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from pathlib import Path
from typing import Any

from sandbox.realise.context import RealiseContext, error_code, pascal, tag_list

RULE_KEYS = {"id": "ID"}
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
SSE_V2 = (
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
)


def _bucket_name(inputs: dict[str, Any]) -> str:
    return str(inputs["bucket"])


def bucket(ctx: RealiseContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    s3 = ctx.client("s3")
    bucket_name = ctx.physical_name(
        "aws:s3/bucket:Bucket", name, inputs, "bucket", lower=True, max_len=63
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
    "aws:s3/bucket:Bucket": bucket,
    "aws:s3/bucketV2:BucketV2": bucket,
    "aws:s3/bucketVersioning:BucketVersioning": versioning,
    "aws:s3/bucketVersioningV2:BucketVersioningV2": versioning,
    SSE: encryption,
    SSE_V2: encryption,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": public_access_block,
    "aws:s3/bucketPolicy:BucketPolicy": policy,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": lifecycle,
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2": lifecycle,
    "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration": cors,
    "aws:s3/bucketCorsConfigurationV2:BucketCorsConfigurationV2": cors,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ownership_controls,
    "aws:s3/bucketObject:BucketObject": bucket_object,
    "aws:s3/bucketObjectv2:BucketObjectv2": bucket_object,
}
