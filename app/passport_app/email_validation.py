"""Email ownership check: a pending record with a random token, a link by SES, a confirm step.

One record per address (pk ``email``): asking again overwrites it with a fresh token and expiry,
so retries never pile up records and only the newest link works. ``expires_at`` is the table's
TTL attribute (DynamoDB deletes lazily, up to days later, so expiry is also checked here); it is
removed on confirmation so a verified address is kept.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from .aws import AWS_ERRORS, AwsClients, error_code
from .config import Settings
from .errors import ApiError

TOKEN_TTL_SECONDS = 24 * 3600
TOKEN_INDEX = "token-index"
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
CONFIRM_PATH = "/api/v1/email/confirm"


@dataclass(frozen=True)
class PendingValidation:
    email: str
    token: str
    expires_at: int
    message_id: str


def normalise_email(raw: object) -> str:
    """Syntax-checked, normalised address (no DNS lookups); 400 invalid_email otherwise."""
    if not isinstance(raw, str) or not raw.strip():
        raise ApiError(400, "invalid_email", 'the JSON body needs a string field "email"')
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ApiError(
            400, "invalid_email", f"{raw.strip()!r} is not a valid email: {exc}"
        ) from None


def start_validation(
    clients: AwsClients, settings: Settings, email: str, base_url: str
) -> PendingValidation:
    """Store a pending record (replacing any earlier one) and email the confirmation link."""
    now = int(time.time())
    token = secrets.token_urlsafe(32)
    expires_at = now + TOKEN_TTL_SECONDS
    try:
        clients.dynamodb.put_item(
            TableName=settings.email_table,
            Item={
                "email": {"S": email},
                "token": {"S": token},
                "status": {"S": "pending"},
                "created_at": {"N": str(now)},
                "expires_at": {"N": str(expires_at)},
            },
        )
    except AWS_ERRORS as exc:
        raise ApiError(
            503,
            "storage_unavailable",
            f"could not record the validation request ({error_code(exc)}); try again shortly",
        ) from exc

    link = f"{base_url.rstrip('/')}{CONFIRM_PATH}?token={token}"
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
            502,
            "email_delivery_failed",
            f"the confirmation email could not be sent ({error_code(exc)})",
        ) from exc
    return PendingValidation(email, token, expires_at, str(sent.get("MessageId", "")))


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
            ExpressionAttributeNames={"#t": "token"},
            ExpressionAttributeValues={":t": {"S": token}},
            Limit=1,
        )
    except AWS_ERRORS as exc:
        raise ApiError(
            503, "storage_unavailable", f"could not look up the token ({error_code(exc)})"
        ) from exc
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
            ExpressionAttributeNames={"#s": "status", "#t": "token"},
            ExpressionAttributeValues={
                ":verified": {"S": "verified"},
                ":now": {"N": str(int(time.time()))},
                ":t": {"S": token},
            },
        )
    except AWS_ERRORS as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            raise not_found from None  # a newer request replaced this token meanwhile
        raise ApiError(
            503, "storage_unavailable", f"could not confirm the address ({error_code(exc)})"
        ) from exc
    return email
