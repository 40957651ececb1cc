"""s3: both buckets locked down (versioning, SSE, four public-access blocks, TLS-only policy)
and usable (a probe object round trip, every version of it removed afterwards)."""

from __future__ import annotations

import json
import uuid

import botocore.exceptions as bx

from common.aws_errors import error_code
from verify.context import Check, CheckContext
from verify.model import CheckFailed, Outcome, Problems

WHERE_PROGRAM = "components/storage.py"
BLOCKS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
NO_CONFIG = {
    "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchBucketPolicy",
}


def _where(cli: str) -> str:
    return f"{WHERE_PROGRAM} / `aws s3api {cli}`"


def _get(ctx: CheckContext, op: str, bucket: str) -> dict | None:
    """The config, or None when the bucket has none of that kind (a finding, not an error)."""
    try:
        return ctx.aws.call("s3", op, Bucket=bucket)
    except Exception as exc:
        if error_code(exc) in NO_CONFIG:
            return None
        raise


def is_tls_only(policy: dict) -> bool:
    """A Deny for every principal when aws:SecureTransport is false, covering the objects."""
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for st in statements:
        if st.get("Effect") != "Deny":
            continue
        cond = st.get("Condition", {}).get("Bool", {})
        value = cond.get("aws:SecureTransport")
        values = value if isinstance(value, list) else [value]
        principal = st.get("Principal")
        everyone = principal == "*" or (
            isinstance(principal, dict) and principal.get("AWS") in ("*", ["*"])
        )
        actions = st.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if (
            "false" in [str(v).lower() for v in values]
            and everyone
            and ("s3:*" in actions or "*" in actions)
        ):
            return True
    return False


def inspect_bucket(ctx: CheckContext, bucket: str, problems: Problems) -> dict:
    try:
        ctx.aws.call("s3", "head_bucket", Bucket=bucket)
    except Exception as exc:
        if error_code(exc) in ("404", "NoSuchBucket", "403"):
            problems.add(
                f"bucket {bucket}: expected to exist and be ours, got {error_code(exc)} "
                f"— check {_where('head-bucket --bucket ' + bucket)} and the outputs"
            )
            return {"exists": False}
        raise
    info: dict = {"exists": True}
    versioning = _get(ctx, "get_bucket_versioning", bucket) or {}
    info["versioning"] = versioning.get("Status")
    problems.expect(
        versioning.get("Status") == "Enabled",
        f"bucket {bucket}: versioning",
        "Enabled",
        versioning.get("Status") or "never enabled",
        _where(f"get-bucket-versioning --bucket {bucket}"),
    )

    enc = _get(ctx, "get_bucket_encryption", bucket)
    rules = (enc or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    algos = [r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules]
    info["encryption"] = algos
    problems.expect(
        any(a in ("AES256", "aws:kms", "aws:kms:dsse") for a in algos),
        f"bucket {bucket}: default encryption",
        "AES256 or aws:kms",
        algos or "none",
        _where(f"get-bucket-encryption --bucket {bucket}"),
    )

    pab = (_get(ctx, "get_public_access_block", bucket) or {}).get(
        "PublicAccessBlockConfiguration", {}
    )
    info["public_access_block"] = pab
    off = [b for b in BLOCKS if pab.get(b) is not True]
    problems.expect(
        not off,
        f"bucket {bucket}: public access block",
        "all four True",
        f"{', '.join(off)} not set",
        _where(f"get-public-access-block --bucket {bucket}"),
    )

    raw = (_get(ctx, "get_bucket_policy", bucket) or {}).get("Policy")
    policy = json.loads(raw) if raw else {}
    info["tls_only_policy"] = is_tls_only(policy)
    problems.expect(
        info["tls_only_policy"],
        f"bucket {bucket}: bucket policy",
        "a Deny for all principals when aws:SecureTransport is false",
        "no policy" if not raw else "no such statement",
        _where(f"get-bucket-policy --bucket {bucket}"),
    )
    return info


def probe(ctx: CheckContext, bucket: str) -> str:
    key = f"verify-probe/{uuid.uuid4()}"
    body = f"verify probe {key}".encode()
    step = "put_object"
    try:
        ctx.aws.call("s3", "put_object", Bucket=bucket, Key=key, Body=body)
        step = "get_object"
        got = ctx.aws.call("s3", "get_object", Bucket=bucket, Key=key)["Body"].read()
        if got != body:
            raise CheckFailed(
                f"bucket {bucket}: probe object read back differs ({got[:40]!r}) — "
                f"check {WHERE_PROGRAM}"
            )
    except bx.ClientError as exc:
        message = exc.response.get("Error", {}).get("Message") or "no message"
        raise CheckFailed(
            f"bucket {bucket}: probe {step} of {key}: expected success, got "
            f"{error_code(exc)} ({message}) — check the bucket policy "
            f"({_where('get-bucket-policy --bucket ' + bucket)}) and the caller's permissions"
        ) from exc
    finally:
        # Versioned bucket: a plain delete only adds a marker; remove every version and marker.
        listing = ctx.aws.call("s3", "list_object_versions", Bucket=bucket, Prefix=key)
        for entry in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
            if entry["Key"] == key:
                ctx.aws.call(
                    "s3", "delete_object", Bucket=bucket, Key=key, VersionId=entry["VersionId"]
                )
    return key


def run(ctx: CheckContext) -> Outcome:
    problems = Problems()
    buckets = [ctx.outputs["artifact_bucket"], ctx.outputs["media_bucket"]]
    details = {b: inspect_bucket(ctx, b, problems) for b in buckets}
    problems.raise_if_any(details)
    for bucket in buckets:
        details[bucket]["probe"] = probe(ctx, bucket) + " put, read, deleted (all versions)"
    return Outcome(
        "both buckets versioned, encrypted, private, TLS-only; probe round trip ok", details
    )


CHECK = Check(
    name="s3",
    run=run,
    description="buckets: versioning, SSE, 4 public-access blocks, TLS-only policy; probe object",
    requires=("region", "artifact_bucket", "media_bucket"),
    needs_app=False,
    timeout_s=60.0,
)
