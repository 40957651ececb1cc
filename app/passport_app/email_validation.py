"""Email ownership check: a pending record with a random token, a link by SES, a confirm step.

One record per address (pk ``email``). Abuse controls (docs/threat-model.md):

- The link is built from the configured ``PUBLIC_BASE_URL``, never from the request's Host.
- Only ``sha256(token)`` is stored (``token_hash``, looked up through its GSI); the token itself
  exists only in the mail, so a table dump or a log line cannot confirm anyone.
- Sending is gated by one conditional DynamoDB write per request on the address's record: a resend
  cooldown and a daily cap (UTC days) live in the record, so two instances racing for the same
  address cannot both send, and a verified record is never reset or mailed again.
- ``expires_at`` is the table's TTL attribute (DynamoDB deletes lazily, so expiry is also checked
  here); it is removed on confirmation so a verified address is kept.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from email_validator import EmailNotValidError, validate_email

from .aws import AWS_ERRORS, AwsClients, error_code
from .config import Settings
from .errors import ApiError, excerpt

TOKEN_TTL_SECONDS = 24 * 3600
TOKEN_INDEX = "token-hash-index"
TOKEN_HASH = "token_hash"
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
CONFIRM_PATH = "/api/v1/email/confirm"
MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit; longer input is refused before parsing


@dataclass(frozen=True)
class PendingValidation:
    email: str
    expires_at: int
    message_id: str
    status: str = "pending"


def hash_token(token: str) -> str:
    """What the table stores: a 256-bit random token needs no salt or slow hash."""
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(raw: object) -> str:
    """Syntax-checked address, lowercased whole (no DNS lookups); 400 invalid_email otherwise.

    Merged: surrounding space, case of the domain *and* of the local part (no mainstream
    provider has case-sensitive mailboxes, and case variants were a free way to multiply
    records and mails), Unicode NFC. Not merged: ``+tag`` sub-addresses and Gmail dots, which
    are provider-specific and name different mailboxes elsewhere; each variant has its own
    quota and the per-client limit bounds how many one client can try.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise ApiError(400, "invalid_email", 'the JSON body needs a string field "email"')
    text = raw.strip()
    if len(text) > MAX_EMAIL_LENGTH:
        raise ApiError(
            400, "invalid_email", f"an email address has at most {MAX_EMAIL_LENGTH} characters"
        )
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise ApiError(
            400, "invalid_email", f"{excerpt(text)!r} is not a valid email address"
        ) from None


def _today(now: int) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def _seconds_to_midnight(now: int) -> int:
    return 86400 - now % 86400


def _claim_send(clients: AwsClients, settings: Settings, email: str, token: str, now: int) -> str:
    """Store the new pending token if the address may be mailed now; 'sent', 'verified' or 429.

    Two conditional writes cover the two cases (same UTC day: increment below the cap; a new
    day or a new address: restart the count); both require the cooldown to have passed and the
    record not to be verified. Whatever instance wins a write is the only one that sends.
    """
    table = settings.email_table
    common = {
        "#s": "status",
        "#h": TOKEN_HASH,
    }
    values = {
        ":h": {"S": hash_token(token)},
        ":pending": {"S": "pending"},
        ":verified": {"S": "verified"},
        ":now": {"N": str(now)},
        ":exp": {"N": str(now + TOKEN_TTL_SECONDS)},
        ":edge": {"N": str(now - settings.email_resend_cooldown_s)},
        ":day": {"S": _today(now)},
        ":one": {"N": "1"},
    }
    base_set = (
        "SET #h = :h, #s = :pending, created_at = :now, expires_at = :exp, last_sent_at = :now"
    )
    attempts = (
        (
            base_set + ", sent_today = sent_today + :one",
            "#s <> :verified AND last_sent_at <= :edge AND sent_day = :day AND sent_today < :cap",
            {":cap": {"N": str(settings.email_daily_cap)}},
        ),
        (
            base_set + ", sent_today = :one, sent_day = :day",
            "attribute_not_exists(email) OR (#s <> :verified"
            " AND (attribute_not_exists(last_sent_at) OR last_sent_at <= :edge)"
            " AND (attribute_not_exists(sent_day) OR sent_day <> :day))",
            {},
        ),
    )
    for update, condition, extra in attempts:
        try:
            clients.dynamodb.update_item(
                TableName=table,
                Key={"email": {"S": email}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=common,
                ExpressionAttributeValues={**values, **extra},
            )
            return "sent"
        except AWS_ERRORS as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise _storage_unavailable("could not record the validation request") from exc
    try:
        item = (
            clients.dynamodb.get_item(
                TableName=table, Key={"email": {"S": email}}, ConsistentRead=True
            ).get("Item")
            or {}
        )
    except AWS_ERRORS as exc:
        raise _storage_unavailable("could not record the validation request") from exc
    if item.get("status", {}).get("S") == "verified":
        return "verified"
    last = int(item.get("last_sent_at", {}).get("N", "0"))
    wait = last + settings.email_resend_cooldown_s - now
    if wait > 0:
        raise ApiError(
            429,
            "resend_too_soon",
            "a confirmation email was sent to this address moments ago; check the inbox or "
            "try again later",
            retry_after=wait,
        )
    raise ApiError(
        429,
        "daily_email_limit",
        f"this address has had {settings.email_daily_cap} confirmation emails today; "
        "try again tomorrow (UTC)",
        retry_after=_seconds_to_midnight(now),
    )


def _storage_unavailable(what: str) -> ApiError:
    return ApiError(503, "storage_unavailable", f"{what}; try again shortly")


def start_validation(clients: AwsClients, settings: Settings, email: str) -> PendingValidation:
    """Claim a send for ``email`` (quota, verified check) and mail the confirmation link."""
    now = int(time.time())
    token = secrets.token_urlsafe(32)
    expires_at = now + TOKEN_TTL_SECONDS
    if _claim_send(clients, settings, email, token, now) == "verified":
        return PendingValidation(email, 0, "", status="verified")

    link = f"{settings.public_base_url}{CONFIRM_PATH}?token={token}"
    text = (
        "Confirm your email address for Passport Photo by opening this link within 24 hours:\n\n"
        f"{link}\n\nIf you did not ask for this, ignore this message."
    )
    html = (
        "<p>Confirm your email address for Passport Photo by opening this link within "
        f'24 hours:</p><p><a href="{link}">{link}</a></p>'
        "<p>If you did not ask for this, ignore this message.</p>"
    )
    kwargs = {
        "Source": settings.sender_email,
        "Destination": {"ToAddresses": [email]},
        "Message": {
            "Subject": {"Data": "Confirm your email address", "Charset": "UTF-8"},
            "Body": {
                "Text": {"Data": text, "Charset": "UTF-8"},
                "Html": {"Data": html, "Charset": "UTF-8"},
            },
        },
    }
    if settings.ses_configuration_set:
        kwargs["ConfigurationSetName"] = settings.ses_configuration_set
    try:
        sent = clients.ses.send_email(**kwargs)
    except AWS_ERRORS as exc:
        raise ApiError(
            502, "email_delivery_failed", "the confirmation email could not be sent"
        ) from exc
    return PendingValidation(email, expires_at, str(sent.get("MessageId", "")))


def confirm(clients: AwsClients, settings: Settings, token: str | None) -> str:
    """Mark the address holding ``token`` verified; returns the address.

    400 missing_token, 404 token_not_found (unknown, malformed or superseded), 410 token_expired.
    """
    if not token:
        raise ApiError(400, "missing_token", "the query parameter 'token' is required")
    not_found = ApiError(
        404, "token_not_found", "this confirmation link is unknown or was replaced"
    )
    if not _TOKEN_SHAPE.match(token):
        raise not_found
    try:
        found = clients.dynamodb.query(
            TableName=settings.email_table,
            IndexName=TOKEN_INDEX,
            KeyConditionExpression="#t = :t",
            ExpressionAttributeNames={"#t": TOKEN_HASH},
            ExpressionAttributeValues={":t": {"S": hash_token(token)}},
            Limit=1,
        )
    except AWS_ERRORS as exc:
        raise _storage_unavailable("could not look up the token") from exc
    items = found.get("Items") or []
    if not items:
        raise not_found
    item = items[0]
    email = item["email"]["S"]
    if item.get("status", {}).get("S") == "verified":
        return email
    expires_at = int(item.get("expires_at", {}).get("N", "0"))
    if expires_at <= int(time.time()):
        raise ApiError(
            410, "token_expired", "this confirmation link has expired; request a new one"
        )
    try:
        clients.dynamodb.update_item(
            TableName=settings.email_table,
            Key={"email": {"S": email}},
            UpdateExpression="SET #s = :verified, verified_at = :now REMOVE expires_at",
            ConditionExpression="#t = :t",
            ExpressionAttributeNames={"#s": "status", "#t": TOKEN_HASH},
            ExpressionAttributeValues={
                ":verified": {"S": "verified"},
                ":now": {"N": str(int(time.time()))},
                ":t": {"S": hash_token(token)},
            },
        )
    except AWS_ERRORS as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            raise not_found from None  # a newer request replaced this token meanwhile
        raise _storage_unavailable("could not confirm the address") from exc
    return email
