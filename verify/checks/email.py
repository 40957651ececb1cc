"""email: the validation workflow end to end, then the record is removed.

Recipient: SES's mailbox simulator (`success+<label>@simulator.amazonses.com`), which accepts
mail without bouncing or hurting the account's reputation on real AWS, and gives each run its
own address. In the sandbox (AWS_ENDPOINT_URL set) the sent message is read back from moto's
model data, which proves the app sent the mail and that its link carries the token.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from typing import Any

import requests

from verify.checks import expect
from verify.checks.ses import identity_statuses, raise_if_pending
from verify.context import Check, CheckContext
from verify.model import CheckFailed, Outcome, Problems

VALIDATE = "/api/v1/email/validate"
CONFIRM = "/api/v1/email/confirm"
TOKEN_RE = re.compile(r"[?&]token=([A-Za-z0-9_\-.~%]+)")
WHERE_APP = "app/passport_app email routes and app logs"
WHERE_SEND = (
    "the app's SES send (sender identity verified, SES_CONFIGURATION_SET, the instance role's "
    "ses:SendEmail), the email table, and app logs"
)
WHERE_TABLE = "the email table (components/datastore.py) and the instance role's dynamodb access"


def probe_address() -> str:
    return f"success+verify-{uuid.uuid4().hex[:12]}@simulator.amazonses.com"


def sent_messages(endpoint: str, recipient: str, timeout_s: float) -> list[dict[str, Any]]:
    """Messages moto's SES holds for recipient (simple and raw sends), from /moto-api/data.json."""
    resp = requests.get(f"{endpoint.rstrip('/')}/moto-api/data.json", timeout=timeout_s)
    resp.raise_for_status()
    ses = resp.json().get("ses", {})
    found = []
    for msg in ses.get("Message", []) + ses.get("TemplateMessage", []):
        dest = msg.get("destinations") or {}
        recipients = [
            a for k in ("ToAddresses", "CcAddresses", "BccAddresses") for a in dest.get(k, [])
        ]
        if recipient in recipients:
            found.append({"subject": msg.get("subject"), "body": msg.get("body") or ""})
    for msg in ses.get("RawMessage", []):
        if recipient in (msg.get("destinations") or []) or recipient in (msg.get("raw_data") or ""):
            found.append({"subject": None, "body": msg.get("raw_data") or ""})
    return found


def token_in(body: str) -> str | None:
    # Raw MIME may fold or quoted-printable-encode the link: undo the common encodings first.
    text = body.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=").replace("&amp;", "&")
    match = TOKEN_RE.search(text)
    return requests.utils.unquote(match.group(1)) if match else None


def read_record(ctx: CheckContext, address: str) -> dict[str, Any] | None:
    item = ctx.aws.call(
        "dynamodb",
        "get_item",
        TableName=ctx.outputs["email_table"],
        Key={"email": {"S": address}},
        ConsistentRead=True,
    ).get("Item")
    if item is None:
        return None
    return {k: next(iter(v.values())) for k, v in item.items()}


def run(ctx: CheckContext) -> Outcome:
    address = probe_address()
    table = ctx.outputs["email_table"]
    details: dict[str, Any] = {"address": address}
    problems = Problems()
    sender = ctx.outputs.get("sender_email")
    if sender:  # an identity still pending cannot send: that is a manual step, not a failure
        statuses = identity_statuses(ctx, sender)
        if "Success" not in statuses.values():
            raise_if_pending(ctx, sender, {**statuses}, {**details, "identity_status": statuses})
    try:
        resp = ctx.http.post(VALIDATE, json={"email": address})
        expect.status(resp, 202, f"POST {VALIDATE}", WHERE_SEND)
        body = expect.json_object(resp, f"POST {VALIDATE}")
        problems.expect(
            body.get("status") == "pending",
            f"POST {VALIDATE} body status",
            "'pending'",
            repr(body.get("status")),
            WHERE_APP,
        )

        record = read_record(ctx, address)
        if record is None:
            raise CheckFailed(
                f"email table {table}: expected a pending record for {address} "
                f"after the 202, found none — check {WHERE_TABLE}"
            )
        details["pending_record"] = {k: record.get(k) for k in ("status", "expires_at")}
        problems.expect(
            record.get("status") == "pending",
            f"record {address} status",
            "'pending'",
            repr(record.get("status")),
            WHERE_APP,
        )
        expires = float(record.get("expires_at") or 0)
        problems.expect(
            expires > time.time(),
            f"record {address} expires_at",
            "a future epoch (the TTL attribute)",
            record.get("expires_at"),
            WHERE_APP,
        )
        token_hash = record.get("token_hash")
        problems.expect(
            "token" not in record and bool(re.fullmatch(r"[0-9a-f]{64}", str(token_hash))),
            f"record {address} token at rest",
            "only a sha256 token_hash, no token in clear",
            sorted(record),
            WHERE_APP,
        )
        if not ctx.aws.endpoint_url:
            # On AWS the token exists only in the mail (the simulator's inbox is not readable):
            # confirmation is proven in the sandbox; here the record and its hash are.
            problems.raise_if_any(details)
            return Outcome(f"validate → pending record with hashed token for {address}", details)
        # moto's data.json dumps every service's state: on a busy sandbox it can take longer
        # than any one request to the app (10 s read timeouts seen under load); the check's own
        # deadline is the bound that matters.
        messages = sent_messages(ctx.aws.endpoint_url, address, ctx.deadline.clip(45))
        details["messages_sent"] = len(messages)
        token = token_in(messages[0]["body"]) if len(messages) == 1 else None
        problems.expect(
            len(messages) == 1 and token is not None,
            f"SES messages to {address}",
            "exactly 1, carrying the confirmation link",
            len(messages),
            "the app's SES send (SENDER_EMAIL, SES_CONFIGURATION_SET) and app logs",
        )
        if token is None:
            problems.raise_if_any(details)
            raise CheckFailed(f"no confirmation token mailed to {address} — check {WHERE_APP}")
        problems.expect(
            hashlib.sha256(token.encode()).hexdigest() == token_hash,
            "sha256 of the mailed token",
            "the record's token_hash",
            "a different hash",
            WHERE_APP,
        )

        by_token = ctx.aws.call(
            "dynamodb",
            "query",
            TableName=table,
            IndexName="token-hash-index",
            KeyConditionExpression="#t = :t",
            ExpressionAttributeNames={"#t": "token_hash"},
            ExpressionAttributeValues={":t": {"S": str(token_hash)}},
        ).get("Items", [])
        found = [i["email"]["S"] for i in by_token]
        problems.expect(
            found == [address],
            "token-hash-index lookup of the token hash",
            [address],
            found,
            "the token-hash-index GSI (components/datastore.py)",
        )

        resp = ctx.http.get(CONFIRM, params={"token": token})
        expect.status(resp, 200, f"GET {CONFIRM}", WHERE_APP)
        body = expect.json_object(resp, f"GET {CONFIRM}")
        problems.expect(
            body.get("status") == "verified" and body.get("email") == address,
            f"GET {CONFIRM} body",
            f"status 'verified', email {address!r}",
            body,
            WHERE_APP,
        )
        record = read_record(ctx, address) or {}
        details["confirmed_status"] = record.get("status")
        problems.expect(
            record.get("status") == "verified",
            f"record {address} after confirm",
            "status 'verified'",
            repr(record.get("status")),
            WHERE_APP,
        )
        problems.raise_if_any(details)
    finally:
        ctx.aws.call("dynamodb", "delete_item", TableName=table, Key={"email": {"S": address}})
    return Outcome(f"validate → pending record → confirm → verified for {address}", details)


CHECK = Check(
    name="email",
    run=run,
    description="email validation end to end: request, pending record, mail, confirm, verified",
    requires=("api_url", "region", "email_table"),
    timeout_s=60.0,
)
