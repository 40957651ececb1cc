"""Drift on the sandbox: read each resource back from moto and compare it with the kept state.

The sandbox keeps, per resource, the state its last `up` realised (sandbox.json `resources`,
like Pulumi's state). A setting changed behind the stack's back (bucket versioning suspended,
a table's point-in-time recovery turned off) shows here as the live value differing from the
recorded one, property by property, as `pulumi refresh --preview-only` shows it on AWS.

Readers cover the settings a console edit is likely to undo and the verify checks rely on; a
type without a reader is not compared (listed in `unchecked`), never reported as clean drift.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from common.aws_errors import error_code
from common.contracts import ResourceType
from common.drift import DELETED, Drift, DriftReport
from sandbox.environment import NS_APP_ENV, settings_hash
from sandbox.realise.elasticbeanstalk import served_settings

#: boto3 client factory for the stack's moto: service name -> client.
Clients = Callable[[str], Any]
#: A reader: (clients, recorded state) -> {property: (declared, actual)} for what it compares.
Reader = Callable[[Clients, Mapping[str, Any]], dict[str, tuple[Any, Any]]]

GONE = ("NoSuchBucket", "ResourceNotFoundException", "404", "NotFound")


class ResourceGone(Exception):
    """The resource the state records no longer exists."""


def _call(fn: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except Exception as exc:
        if error_code(exc) in GONE:
            raise ResourceGone(str(exc)) from exc
        raise


def _versioning(clients: Clients, state: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    declared = (state.get("versioningConfiguration") or {}).get("status", "Enabled")
    live = _call(clients("s3").get_bucket_versioning, Bucket=state["bucket"])
    return {"versioningConfiguration.status": (declared, live.get("Status", "Disabled"))}


def _encryption(clients: Clients, state: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    def algorithms(rules: list[Mapping[str, Any]], key: str, inner: str) -> list[Any]:
        return [(r.get(key) or {}).get(inner) for r in rules]

    declared = algorithms(
        state.get("rules") or [], "applyServerSideEncryptionByDefault", "sseAlgorithm"
    )
    try:
        live = clients("s3").get_bucket_encryption(Bucket=state["bucket"])
        rules = live["ServerSideEncryptionConfiguration"]["Rules"]
    except Exception as exc:
        if error_code(exc) in GONE:
            raise ResourceGone(str(exc)) from exc
        if error_code(exc) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        rules = []
    actual = algorithms(rules, "ApplyServerSideEncryptionByDefault", "SSEAlgorithm")
    return {"rules.applyServerSideEncryptionByDefault.sseAlgorithm": (declared, actual)}


PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)


def _public_access_block(clients: Clients, state: Mapping[str, Any]) -> dict[str, Any]:
    try:
        live = clients("s3").get_public_access_block(Bucket=state["bucket"])
        config = live["PublicAccessBlockConfiguration"]
    except Exception as exc:
        if error_code(exc) in GONE:
            raise ResourceGone(str(exc)) from exc
        if error_code(exc) != "NoSuchPublicAccessBlockConfiguration":
            raise
        config = {}
    return {
        flag: (bool(state.get(flag, False)), bool(config.get(flag[0].upper() + flag[1:], False)))
        for flag in PUBLIC_ACCESS_FLAGS
    }


def _table(clients: Clients, state: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    ddb, name = clients("dynamodb"), state["name"]
    table = _call(ddb.describe_table, TableName=name)["Table"]
    backups = _call(ddb.describe_continuous_backups, TableName=name)
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    ttl = _call(ddb.describe_time_to_live, TableName=name)["TimeToLiveDescription"]
    declared_ttl = state.get("ttl") or {}
    return {
        "pointInTimeRecovery.enabled": (
            bool((state.get("pointInTimeRecovery") or {}).get("enabled", False)),
            pitr.get("PointInTimeRecoveryStatus") == "ENABLED",
        ),
        "billingMode": (
            state.get("billingMode", "PROVISIONED"),
            (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED"),
        ),
        "deletionProtectionEnabled": (
            bool(state.get("deletionProtectionEnabled", False)),
            bool(table.get("DeletionProtectionEnabled", False)),
        ),
        "serverSideEncryption.enabled": (
            bool((state.get("serverSideEncryption") or {}).get("enabled", False)),
            (table.get("SSEDescription") or {}).get("Status") in ("ENABLED", "ENABLING"),
        ),
        "ttl.enabled": (
            bool(declared_ttl.get("enabled", False)),
            ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"),
        ),
    }


#: The option settings whose edit the sandbox can see: those it runs the app with.
SETTINGS_PROPERTY = f"settings[{NS_APP_ENV}]"


def environment_reader(held: Mapping[str, Any]) -> Reader:
    """EB environments: moto has no versions, deployments or option settings, the sandbox keeps
    them itself (sandbox.json `app`): the version running there, and the environment
    properties it runs with (their digest), are compared with what the state declares."""

    def read(clients: Clients, state: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
        app = held.get("app") or {}
        if not app:
            raise ResourceGone("no environment runs in the sandbox")
        declared = settings_hash(
            served_settings(list(state.get("settings") or [])), str(held.get("aws_endpoint_url"))
        )
        same = declared == app.get("env_hash")
        return {
            "version": (state.get("version"), app.get("version")),
            # a digest says nothing to a reader: named, without values
            SETTINGS_PROPERTY: (None, None) if same else ("as declared", "edited"),
        }

    return read


READERS: dict[str, Reader] = {
    ResourceType.S3_VERSIONING: _versioning,
    ResourceType.S3_VERSIONING_V2: _versioning,
    ResourceType.S3_ENCRYPTION: _encryption,
    ResourceType.S3_ENCRYPTION_V2: _encryption,
    ResourceType.S3_PUBLIC_ACCESS_BLOCK: _public_access_block,
    ResourceType.DYNAMODB_TABLE: _table,
}


def find_drift(
    resources: Mapping[str, Mapping[str, Any]],
    clients: Clients,
    held: Mapping[str, Any] | None = None,
) -> DriftReport:
    """Each recorded resource with a reader, read back and compared property by property;
    `held` is the sandbox's own state (what it keeps instead of moto: the EB environment)."""
    readers = {**READERS, ResourceType.EB_ENVIRONMENT: environment_reader(held or {})}
    report = DriftReport()
    for entry in sorted(resources.values(), key=lambda e: (e.get("type", ""), e.get("name", ""))):
        typ, name = str(entry.get("type", "")), str(entry.get("name", ""))
        reader = readers.get(typ)
        if reader is None:
            report.unchecked.append(f"{name} ({typ})")
            continue
        report.checked += 1
        try:
            compared = reader(clients, entry.get("state") or {})
        except ResourceGone:
            report.drifts.append(Drift(name, typ, DELETED))
            continue
        for prop, (declared, actual) in compared.items():
            if declared != actual:
                report.drifts.append(Drift(name, typ, prop, declared, actual))
    return report
