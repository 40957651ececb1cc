"""DynamoDB: the email-validation table and the processing-analytics table.

Schemas follow docs/contracts.md ("Tables"). Both tables are on-demand (traffic is spiky and
small), always have point-in-time recovery and KMS encryption, and in prod are deletion
protected in AWS *and* protected/retained in Pulumi, so neither a console click nor a
`pulumi destroy` can drop user data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

EMAIL_HASH_KEY = "email"
TOKEN_INDEX = "token-hash-index"
TOKEN_ATTRIBUTE = "token_hash"
"""Only sha256(token) is stored; the token itself exists only in the mailed link."""
TTL_ATTRIBUTE = "expires_at"
ANALYTICS_HASH_KEY = "event_id"


@dataclass
class DatastoreArgs:
    tags: Mapping[str, str]
    deletion_protection: bool


class Datastore(pulumi.ComponentResource):
    email_table: aws.dynamodb.Table
    analytics_table: aws.dynamodb.Table

    def __init__(
        self, name: str, args: DatastoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("passport:datastore:Datastore", name, None, opts)
        self._args = args

        self.email_table = self._table(
            f"{name}-emails",
            hash_key=EMAIL_HASH_KEY,
            attributes=[EMAIL_HASH_KEY, TOKEN_ATTRIBUTE],
            global_secondary_indexes=[
                aws.dynamodb.TableGlobalSecondaryIndexArgs(
                    name=TOKEN_INDEX,
                    key_schemas=[
                        aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                            attribute_name=TOKEN_ATTRIBUTE, key_type="HASH"
                        )
                    ],
                    projection_type="ALL",
                )
            ],
            # Unconfirmed validation records expire on their own.
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=TTL_ATTRIBUTE, enabled=True),
        )
        self.analytics_table = self._table(
            f"{name}-analytics",
            hash_key=ANALYTICS_HASH_KEY,
            attributes=[ANALYTICS_HASH_KEY],
            # Events expire (the app writes expires_at = now + ANALYTICS_TTL_DAYS).
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=TTL_ATTRIBUTE, enabled=True),
        )

        self.register_outputs(
            {
                "email_table": self.email_table.name,
                "email_table_arn": self.email_table.arn,
                "analytics_table": self.analytics_table.name,
                "analytics_table_arn": self.analytics_table.arn,
            }
        )

    def _table(
        self, name: str, *, hash_key: str, attributes: list[str], **extra: object
    ) -> aws.dynamodb.Table:
        protect = self._args.deletion_protection
        return aws.dynamodb.Table(
            name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=hash_key,
            attributes=[aws.dynamodb.TableAttributeArgs(name=a, type="S") for a in attributes],
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            deletion_protection_enabled=protect,
            tags=dict(self._args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect),
            **extra,
        )
