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


def app_data_policy(
    *,
    email_table_arn: str,
    analytics_table_arn: str,
    media_bucket_arn: str,
    artifact_bucket_arn: str,
    ses_identity_arn: str,
    ses_configuration_set_arn: str,
) -> dict[str, Any]:
    """Least-privilege data access for the app's instances: this stack's ARNs only.

    SES v1/v2 SendEmail authorises against both the identity and the configuration set used,
    so both ARNs are listed. An email-address identity can only send as that address, so no
    extra `ses:FromAddress` condition is needed.
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
                "Resource": [ses_identity_arn, ses_configuration_set_arn],
            },
        ],
    }
