"""IAM and bucket policy documents as plain dicts.

Kept pure (resolved strings in, dict out) so tests can assert the exact statements and the
components can apply them to Outputs with `Output.all(...).apply(...)`.
"""

from __future__ import annotations

import json
from typing import Any

DYNAMODB_ACTIONS = (
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)
MEDIA_OBJECT_ACTIONS = ("s3:DeleteObject", "s3:GetObject", "s3:PutObject")
SES_ACTIONS = ("ses:SendEmail", "ses:SendRawEmail")


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True)


def assume_role_policy(service: str, external_id: str | None = None) -> dict[str, Any]:
    """Trust policy letting one AWS service assume the role (EB adds an ExternalId check)."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def tls_only_bucket_policy(bucket_arn: str) -> dict[str, Any]:
    """Deny every request that is not over TLS (checkov CKV_AWS_70-style transport rule)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def identities_of(identity_arn: str) -> str:
    """arn:aws:ses:<region>:<account>:identity/x → the same account's `identity/*`."""
    prefix, sep, _ = identity_arn.partition(":identity/")
    if not sep:
        raise ValueError(f"not an SES identity ARN: {identity_arn!r}")
    return f"{prefix}:identity/*"


def app_data_policy(
    *,
    email_table_arn: str,
    analytics_table_arn: str,
    media_bucket_arn: str,
    artifact_bucket_arn: str,
    ses_identity_arn: str,
    ses_configuration_set_arn: str,
    sender_email: str,
) -> dict[str, Any]:
    """Least-privilege data access for the app's instances: this stack's ARNs only.

    SES SendEmail authorises against every identity the message involves and the
    configuration set. While the account is in the SES sandbox that includes the *recipient's*
    identity, so a policy naming only our identity ARN fails there. Sending is therefore
    allowed on the account's identities in this region (`identity/*`) but only with
    `ses:FromAddress` equal to our sender: the app can send as us and nobody else, which is
    the least privilege SES's authorisation model can express (policy rule iam-no-wildcards
    accepts an identity wildcard only with that condition).
    """
    tables = [email_table_arn, analytics_table_arn]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Tables",
                "Effect": "Allow",
                "Action": list(DYNAMODB_ACTIONS),
                "Resource": tables + [f"{arn}/index/*" for arn in tables],
            },
            {
                "Sid": "MediaObjects",
                "Effect": "Allow",
                "Action": list(MEDIA_OBJECT_ACTIONS),
                "Resource": [f"{media_bucket_arn}/*"],
            },
            {
                "Sid": "MediaList",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [media_bucket_arn],
            },
            {
                "Sid": "ReadBundles",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"{artifact_bucket_arn}/bundles/*"],
            },
            {
                "Sid": "SendMail",
                "Effect": "Allow",
                "Action": list(SES_ACTIONS),
                "Resource": [identities_of(ses_identity_arn), ses_configuration_set_arn],
                "Condition": {"StringEquals": {"ses:FromAddress": sender_email}},
            },
        ],
    }
