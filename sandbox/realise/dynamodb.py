"""DynamoDB tables: keys, GSIs, billing, TTL, point-in-time recovery, SSE, deletion protection."""

from __future__ import annotations

from typing import Any

from common.aws_errors import error_code
from common.contracts import ResourceType
from common.polling import WaitTimeout, wait_until
from sandbox.realise.context import RealiseContext, tag_list

TYPE = ResourceType.DYNAMODB_TABLE


def _key_schema(hash_key: str | None, range_key: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}] if hash_key else []
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def _index_key_schema(index: dict[str, Any]) -> list[dict[str, str]]:
    """GSI keys: pulumi-aws 7's `keySchemas` list, or the older hashKey/rangeKey pair."""
    if index.get("keySchemas"):
        return [
            {"AttributeName": k["attributeName"], "KeyType": k["keyType"]}
            for k in index["keySchemas"]
        ]
    return _key_schema(index.get("hashKey"), index.get("rangeKey"))


def _projection(index: dict[str, Any]) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": index.get("projectionType", "ALL")}
    if index.get("nonKeyAttributes"):
        projection["NonKeyAttributes"] = list(index["nonKeyAttributes"])
    return projection


def _throughput(spec: dict[str, Any], provisioned: bool) -> dict[str, Any]:
    if not provisioned:
        return {}
    return {
        "ProvisionedThroughput": {
            "ReadCapacityUnits": int(spec.get("readCapacity") or 1),
            "WriteCapacityUnits": int(spec.get("writeCapacity") or 1),
        }
    }


def _gsi(index: dict[str, Any], provisioned: bool) -> dict[str, Any]:
    return {
        "IndexName": index["name"],
        "KeySchema": _index_key_schema(index),
        "Projection": _projection(index),
        **_throughput(index, provisioned),
    }


def _wait_active(client: Any, table: str, timeout: float = 30) -> dict[str, Any]:
    """The table's description once it and its indexes are ACTIVE (the last one seen if never)."""
    seen: list[dict[str, Any]] = []

    def active() -> dict[str, Any] | None:
        desc = client.describe_table(TableName=table)["Table"]
        seen[:] = [desc]
        busy = desc["TableStatus"] != "ACTIVE" or any(
            i.get("IndexStatus", "ACTIVE") != "ACTIVE"
            for i in desc.get("GlobalSecondaryIndexes", [])
        )
        return None if busy else desc

    try:
        return wait_until(active, timeout=timeout, what=f"table {table} ACTIVE", interval=0.2)
    except WaitTimeout:
        return seen[0]


def table(ctx: RealiseContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ddb = ctx.client("dynamodb")
    table_name = ctx.physical_name(TYPE, name, inputs)
    billing = inputs.get("billingMode", "PROVISIONED")
    provisioned = billing == "PROVISIONED"
    attributes = [
        {"AttributeName": a["name"], "AttributeType": a["type"]}
        for a in inputs.get("attributes") or []
    ]
    key_schema = _key_schema(inputs.get("hashKey"), inputs.get("rangeKey"))
    gsis = [_gsi(i, provisioned) for i in inputs.get("globalSecondaryIndexes") or []]
    sse = inputs.get("serverSideEncryption") or {}
    sse_spec: dict[str, Any] = {"Enabled": bool(sse.get("enabled", False))}
    if sse_spec["Enabled"]:
        sse_spec["SSEType"] = "KMS"
        if sse.get("kmsKeyArn"):
            sse_spec["KMSMasterKeyId"] = sse["kmsKeyArn"]
    protection = bool(inputs.get("deletionProtectionEnabled", False))

    try:
        existing = ddb.describe_table(TableName=table_name)["Table"]
    except Exception as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        existing = None

    if existing is not None and existing["KeySchema"] != key_schema:
        # A key change is a replacement in Pulumi; refuse rather than silently dropping data.
        raise ValueError(
            f"table {table_name} exists with key schema {existing['KeySchema']}, the program "
            f"declares {key_schema}: changing keys replaces the table (run `down` first)"
        )
    if existing is None:
        create: dict[str, Any] = {
            "TableName": table_name,
            "AttributeDefinitions": attributes,
            "KeySchema": key_schema,
            "BillingMode": billing,
            "SSESpecification": sse_spec,
            "DeletionProtectionEnabled": protection,
            **_throughput(inputs, provisioned),
        }
        if gsis:
            create["GlobalSecondaryIndexes"] = gsis
        if inputs.get("streamEnabled"):
            create["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": inputs.get("streamViewType", "NEW_AND_OLD_IMAGES"),
            }
        if inputs.get("tags"):
            create["Tags"] = tag_list(inputs["tags"])
        if inputs.get("tableClass"):
            create["TableClass"] = inputs["tableClass"]
        ddb.create_table(**create)
    else:
        _update(ddb, table_name, existing, attributes, gsis, billing, protection, sse_spec)
        if inputs.get("tags"):
            ddb.tag_resource(ResourceArn=existing["TableArn"], Tags=tag_list(inputs["tags"]))
    desc = _wait_active(ddb, table_name)

    ttl = inputs.get("ttl") or {}
    _set_ttl(ddb, table_name, ttl.get("attributeName"), bool(ttl.get("enabled", False)))
    pitr = bool((inputs.get("pointInTimeRecovery") or {}).get("enabled", False))
    ddb.update_continuous_backups(
        TableName=table_name,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": pitr},
    )
    return table_name, {
        **inputs,
        "name": table_name,
        "arn": desc["TableArn"],
        "billingMode": billing,
        "streamArn": desc.get("LatestStreamArn", ""),
        "streamLabel": desc.get("LatestStreamLabel", ""),
        "tagsAll": ctx.tags_all(inputs),
    }


def _update(
    ddb: Any,
    table_name: str,
    existing: dict[str, Any],
    attributes: list[dict[str, str]],
    gsis: list[dict[str, Any]],
    billing: str,
    protection: bool,
    sse_spec: dict[str, Any],
) -> None:
    """Bring an existing table to the declared settings (one GSI change per call, like AWS)."""
    current_billing = existing.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    if current_billing != billing:
        ddb.update_table(TableName=table_name, BillingMode=billing)
    if bool(existing.get("DeletionProtectionEnabled", False)) != protection:
        ddb.update_table(TableName=table_name, DeletionProtectionEnabled=protection)
    current_sse = existing.get("SSEDescription", {}).get("Status") in ("ENABLED", "ENABLING")
    if current_sse != sse_spec["Enabled"]:
        ddb.update_table(TableName=table_name, SSESpecification=sse_spec)
    have = {i["IndexName"]: i for i in existing.get("GlobalSecondaryIndexes", [])}
    want = {g["IndexName"]: g for g in gsis}
    for index_name in have.keys() - want.keys():
        ddb.update_table(
            TableName=table_name,
            GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": index_name}}],
        )
        _wait_active(ddb, table_name)
    for index_name in want.keys() - have.keys():
        ddb.update_table(
            TableName=table_name,
            AttributeDefinitions=attributes,
            GlobalSecondaryIndexUpdates=[{"Create": want[index_name]}],
        )
        _wait_active(ddb, table_name)


def _set_ttl(ddb: Any, table_name: str, attribute: str | None, enabled: bool) -> None:
    """AWS rejects re-enabling an enabled TTL, so change it only when it differs."""
    desc = ddb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    is_enabled = desc.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
    if enabled and (not is_enabled or desc.get("AttributeName") != attribute):
        ddb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
        )
    elif not enabled and is_enabled:
        ddb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": False, "AttributeName": desc["AttributeName"]},
        )


HANDLERS = {TYPE: table}
