"""S3: an artifact bucket for EB source bundles and a media bucket for processed photos.

Both get the same baseline (versioning, SSE, all four public-access blocks, TLS-only policy).
The media bucket holds personal data, so its objects (and their old versions) expire after a
configured number of days instead of piling up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam_policies import tls_only_bucket_policy, to_json

ARTIFACT_NONCURRENT_DAYS = 30
"""Old bundle versions are kept this long (rollbacks re-upload by label, so 30 days is ample)."""
ABORT_MULTIPART_DAYS = 1


@dataclass
class StorageArgs:
    tags: Mapping[str, str]
    cors_allowed_origins: Sequence[str]
    photo_retention_days: int
    deletion_protection: bool
    artifact_noncurrent_days: int = ARTIFACT_NONCURRENT_DAYS


class Storage(pulumi.ComponentResource):
    artifact_bucket: aws.s3.Bucket
    media_bucket: aws.s3.Bucket

    def __init__(
        self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("passport:storage:Storage", name, None, opts)
        self._args = args
        self.artifact_bucket = self._secure_bucket(f"{name}-artifacts")
        self._lifecycle(
            f"{name}-artifacts",
            self.artifact_bucket,
            [
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-old-bundle-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.artifact_noncurrent_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=ABORT_MULTIPART_DAYS
                    ),
                )
            ],
        )

        self.media_bucket = self._secure_bucket(f"{name}-media")
        self._lifecycle(
            f"{name}-media",
            self.media_bucket,
            [
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-photos",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=args.photo_retention_days
                    ),
                    # Deleted or overwritten photos must not survive as old versions.
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=1
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=ABORT_MULTIPART_DAYS
                    ),
                ),
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="remove-expired-delete-markers",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        expired_object_delete_marker=True
                    ),
                ),
            ],
        )
        if args.cors_allowed_origins:
            # Browsers fetch processed photos straight from S3 via presigned GET URLs.
            aws.s3.BucketCorsConfiguration(
                f"{name}-media-cors",
                bucket=self.media_bucket.id,
                cors_rules=[
                    aws.s3.BucketCorsConfigurationCorsRuleArgs(
                        allowed_methods=["GET", "HEAD"],
                        allowed_origins=list(args.cors_allowed_origins),
                        allowed_headers=["*"],
                        expose_headers=["ETag", "Content-Length", "Content-Type"],
                        max_age_seconds=3600,
                    )
                ],
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.register_outputs(
            {
                "artifact_bucket": self.artifact_bucket.bucket,
                "artifact_bucket_arn": self.artifact_bucket.arn,
                "media_bucket": self.media_bucket.bucket,
                "media_bucket_arn": self.media_bucket.arn,
            }
        )

    def _secure_bucket(self, name: str) -> aws.s3.Bucket:
        """A bucket plus the separate resources that lock it down (pulumi-aws 7.x style)."""
        protect = self._args.deletion_protection
        bucket = aws.s3.Bucket(
            name,
            force_destroy=not protect,
            tags=dict(self._args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect),
        )
        child = pulumi.ResourceOptions(parent=self)
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    ),
                )
            ],
            opts=child,
        )
        public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=bucket.arn.apply(lambda arn: to_json(tls_only_bucket_policy(arn))),
            # S3 rejects policy writes that race the public-access block being applied.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access_block]),
        )
        return bucket

    def _lifecycle(
        self,
        name: str,
        bucket: aws.s3.Bucket,
        rules: list[aws.s3.BucketLifecycleConfigurationRuleArgs],
    ) -> None:
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=rules,
            opts=pulumi.ResourceOptions(parent=self),
        )
