"""dynamodb: both tables exist as declared (keys, GSI, TTL, PITR, SSE) and accept writes.

The probe item is namespaced (`verify-probe#<uuid>`), written with a condition so it can never
overwrite real data, and deleted in `finally` whatever happened in between.
"""

from __future__ import annotations

import time
import uuid

from common.aws_errors import error_code
from verify.context import Check, CheckContext
from verify.model import CheckFailed, Outcome, Problems

WHERE_PROGRAM = "components/datastore.py"


def _where(cli: str) -> str:
    return f"{WHERE_PROGRAM} / `aws dynamodb {cli}`"


def inspect_table(
    ctx: CheckContext,
    table: str,
    hash_key: str,
    problems: Problems,
    *,
    ttl_attr: str | None,
    gsi: tuple[str, str] | None,
) -> dict:
    try:
        desc = ctx.aws.call("dynamodb", "describe_table", TableName=table)["Table"]
    except Exception as exc:
        if error_code(exc) == "ResourceNotFoundException":
            problems.add(
                f"table {table}: expected to exist, got ResourceNotFoundException — "
                f"check {_where('list-tables')} and the stack outputs"
            )
            return {"exists": False}
        raise
    info: dict = {"exists": True, "status": desc.get("TableStatus")}
    problems.expect(
        desc.get("TableStatus") == "ACTIVE",
        f"table {table}: TableStatus",
        "ACTIVE",
        desc.get("TableStatus"),
        _where(f"describe-table --table-name {table}"),
    )
    keys = {k["AttributeName"]: k["KeyType"] for k in desc.get("KeySchema", [])}
    info["keys"] = keys
    problems.expect(
        keys == {hash_key: "HASH"},
        f"table {table}: key schema",
        f"{{{hash_key!r}: 'HASH'}}",
        keys,
        _where(f"describe-table --table-name {table}"),
    )
    if gsi:
        name, key = gsi
        indexes = {i["IndexName"]: i for i in desc.get("GlobalSecondaryIndexes", [])}
        index = indexes.get(name)
        info["gsi"] = sorted(indexes)
        if problems.expect(
            index is not None,
            f"table {table}: GSI {name}",
            "present",
            sorted(indexes) or "none",
            _where(f"describe-table --table-name {table}"),
        ):
            hk = {k["AttributeName"] for k in index["KeySchema"] if k["KeyType"] == "HASH"}
            problems.expect(
                hk == {key},
                f"table {table}: GSI {name} hash key",
                repr(key),
                sorted(hk),
                WHERE_PROGRAM,
            )
            proj = index.get("Projection", {}).get("ProjectionType")
            problems.expect(
                proj == "ALL", f"table {table}: GSI {name} projection", "ALL", proj, WHERE_PROGRAM
            )
            status = index.get("IndexStatus", "ACTIVE")
            problems.expect(
                status == "ACTIVE",
                f"table {table}: GSI {name} status",
                "ACTIVE",
                status,
                _where(f"describe-table --table-name {table}"),
            )
    sse = (desc.get("SSEDescription") or {}).get("Status")
    info["sse"] = sse
    problems.expect(
        sse == "ENABLED",
        f"table {table}: SSEDescription.Status",
        "ENABLED",
        sse or "absent (AWS-owned key only)",
        _where(f"describe-table --table-name {table}"),
    )

    backups = ctx.aws.call("dynamodb", "describe_continuous_backups", TableName=table)
    pitr = (
        backups.get("ContinuousBackupsDescription", {})
        .get("PointInTimeRecoveryDescription", {})
        .get("PointInTimeRecoveryStatus")
    )
    info["pitr"] = pitr
    problems.expect(
        pitr == "ENABLED",
        f"table {table}: PointInTimeRecoveryStatus",
        "ENABLED",
        pitr,
        _where(f"describe-continuous-backups --table-name {table}"),
    )
    if ttl_attr:
        ttl = ctx.aws.call("dynamodb", "describe_time_to_live", TableName=table).get(
            "TimeToLiveDescription", {}
        )
        info["ttl"] = ttl
        problems.expect(
            ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
            and ttl.get("AttributeName") == ttl_attr,
            f"table {table}: TTL",
            f"ENABLED on {ttl_attr!r}",
            f"{ttl.get('TimeToLiveStatus')} on {ttl.get('AttributeName')!r}",
            _where(f"describe-time-to-live --table-name {table}"),
        )
    return info


def probe(ctx: CheckContext, table: str, hash_key: str) -> str:
    """Write, read back and delete one namespaced item; the delete always runs."""
    key = f"verify-probe#{uuid.uuid4()}"
    item = {
        hash_key: {"S": key},
        "verify_probe": {"S": "1"},
        "expires_at": {"N": str(int(time.time()) + 3600)},
    }
    written = False
    try:
        ctx.aws.call(
            "dynamodb",
            "put_item",
            TableName=table,
            Item=item,
            ConditionExpression="attribute_not_exists(#k)",
            ExpressionAttributeNames={"#k": hash_key},
        )
        written = True
        got = ctx.aws.call(
            "dynamodb", "get_item", TableName=table, Key={hash_key: {"S": key}}, ConsistentRead=True
        ).get("Item")
        if got != item:
            raise CheckFailed(
                f"table {table}: probe item read back expected {item}, got {got} — "
                f"check {WHERE_PROGRAM}"
            )
    finally:
        if written:
            ctx.aws.call("dynamodb", "delete_item", TableName=table, Key={hash_key: {"S": key}})
    return key


def run(ctx: CheckContext) -> Outcome:
    problems = Problems()
    email, analytics = ctx.outputs["email_table"], ctx.outputs["analytics_table"]
    details = {
        email: inspect_table(
            ctx,
            email,
            "email",
            problems,
            ttl_attr="expires_at",
            gsi=("token-hash-index", "token_hash"),
        ),
        analytics: inspect_table(
            ctx, analytics, "event_id", problems, ttl_attr="expires_at", gsi=None
        ),
    }
    problems.raise_if_any(details)
    for table, hash_key in ((email, "email"), (analytics, "event_id")):
        details[table]["probe"] = probe(ctx, table, hash_key) + " written, read, deleted"
    return Outcome(
        "both tables ACTIVE with keys, TTL, PITR, SSE; probe write/read/delete ok", details
    )


CHECK = Check(
    name="dynamodb",
    run=run,
    description="tables ACTIVE with expected keys, GSI, TTL, PITR, SSE; probe item round trip",
    requires=("region", "email_table", "analytics_table"),
    needs_app=False,
    timeout_s=60.0,
)
