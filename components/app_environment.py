"""Elastic Beanstalk: application, versioned source bundle, environment and its IAM roles.

The instances' role gets EB's web-tier managed policy (log streaming, health agent) plus one
inline policy naming only this stack's tables, buckets and SES identity; the service role gets
what enhanced health and managed updates need.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import pulumi
import pulumi_aws as aws

from components.config import DEFAULT_SOLUTION_STACK
from components.eb_settings import EnvironmentShape, option_settings
from components.iam_policies import app_data_policy, assume_role_policy, to_json
from components.naming import managed_policy_arn

PLATFORM_PYTHON = "3.11"
"""The Python of the EB platform; the automation preflight checks the local venv matches it."""
SOLUTION_STACK_REGEX = (
    rf"^64bit Amazon Linux 2023 (.*) running Python {re.escape(PLATFORM_PYTHON)}$"
)
EC2_MANAGED_POLICIES = ("AWSElasticBeanstalkWebTier",)
SERVICE_MANAGED_POLICIES = (
    "service-role/AWSElasticBeanstalkEnhancedHealth",
    "AWSElasticBeanstalkManagedUpdatesCustomerRolePolicy",
)


@dataclass
class DataAccess:
    """ARNs of everything the app may touch (and nothing else)."""

    email_table_arn: pulumi.Input[str]
    analytics_table_arn: pulumi.Input[str]
    media_bucket_arn: pulumi.Input[str]
    artifact_bucket_arn: pulumi.Input[str]
    ses_identity_arn: pulumi.Input[str]
    sender_email: str
    ses_configuration_set_arn: pulumi.Input[str]


@dataclass
class AppEnvironmentArgs:
    application_name: str
    environment_name: str
    region: str
    shape: EnvironmentShape
    bundle_path: str
    version_label: str
    artifact_bucket: pulumi.Input[str]
    data_access: DataAccess
    env_vars: Mapping[str, pulumi.Input[str]]
    tags: Mapping[str, str]
    solution_stack_name: pulumi.Input[str] | None = None
    """The pinned platform (stack config `solutionStack`); defaults to DEFAULT_SOLUTION_STACK."""
    version_registered: bool = False
    """EB already holds `version_label` (rollback, redeploy): reference it, never create it again
    (EB refuses a label twice per application)."""
    deploy_timeout_minutes: int = 25
    """`wait_for_ready_timeout` of the environment (Terraform's 20-minute default is too short
    for an Immutable deploy that installs the ML stack on fresh instances)."""
    versions_kept: int = 50
    """EB's application version lifecycle keeps this many versions (sources stay in S3)."""
    public_base_url: str | None = None
    """Where users reach the API (stack config `publicBaseUrl`): with a certificate, api_url is
    https:// + its host, the name the ACM certificate is for (never the EB CNAME: nobody gets a
    certificate for *.elasticbeanstalk.com); DNS points that host at the CNAME."""


def api_endpoint(args: AppEnvironmentArgs, cname: pulumi.Input[str]) -> pulumi.Output[str]:
    """https://<publicBaseUrl host> with a certificate (the TLS name check passes only there),
    else http://<EB CNAME>."""
    if args.shape.certificate_arn:
        host = urlsplit(args.public_base_url or "").netloc
        if not host:
            raise ValueError("a certificate needs publicBaseUrl: api_url is https://<its host>")
        return pulumi.Output.from_input(f"https://{host}")
    return pulumi.Output.concat("http://", cname)


class AppEnvironment(pulumi.ComponentResource):
    application: aws.elasticbeanstalk.Application
    bundle: aws.s3.BucketObjectv2
    version: aws.elasticbeanstalk.ApplicationVersion | None
    version_name: pulumi.Output[str]
    environment: aws.elasticbeanstalk.Environment
    instance_role: aws.iam.Role
    instance_profile: aws.iam.InstanceProfile
    service_role: aws.iam.Role
    endpoint: pulumi.Output[str]

    def __init__(
        self, name: str, args: AppEnvironmentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("passport:app_environment:AppEnvironment", name, None, opts)
        tags = dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        permissions = self._iam(name, args, tags)

        self.application = aws.elasticbeanstalk.Application(
            f"{name}-app",
            name=args.application_name,
            description="Passport Photo AI backend",
            # EB, not Pulumi, retires old versions (rollback needs them); bundles stay in S3.
            appversion_lifecycle=aws.elasticbeanstalk.ApplicationAppversionLifecycleArgs(
                service_role=self.service_role.arn,
                max_count=args.versions_kept,
                delete_source_from_s3=False,
            ),
            tags=tags,
            opts=child,
        )
        self.bundle = aws.s3.BucketObjectv2(
            f"{name}-bundle",
            bucket=args.artifact_bucket,
            key=f"bundles/{args.version_label}.zip",
            source=pulumi.FileAsset(args.bundle_path),
            content_type="application/zip",
            # S3 verifies the bundle's SHA-256 on upload and keeps it on the object; the
            # pipeline records the same digest (automation/artifacts.py).
            checksum_algorithm="SHA256",
            tags=tags,
            # Pulumi has no rollback (pulumi/pulumi#96): rolling back redeploys an earlier bundle,
            # so a replaced bundle object stays in the artifact bucket instead of being deleted.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        # Versions are never deleted by Pulumi (retain_on_delete): a replaced or no longer
        # declared version stays in EB for rollback until the lifecycle above retires it, and
        # an existing label is referenced rather than created twice.
        self.version: aws.elasticbeanstalk.ApplicationVersion | None = None
        version_name: pulumi.Input[str] = args.version_label
        if not args.version_registered:
            self.version = aws.elasticbeanstalk.ApplicationVersion(
                f"{name}-version",
                name=args.version_label,
                application=self.application.name,
                bucket=args.artifact_bucket,
                key=self.bundle.key,
                description=f"source bundle {args.version_label}",
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
            )
            version_name = self.version.name
        self.version_name = pulumi.Output.from_input(version_name)

        # Pinned by stack config (solutionStack), never "newest at every run": a new platform is
        # a reviewed change, and `check` says when one exists (automation/preflight.py).
        solution_stack = args.solution_stack_name or DEFAULT_SOLUTION_STACK

        settings = option_settings(
            args.shape,
            instance_profile=self.instance_profile.name,
            service_role=self.service_role.arn,
            env_vars=args.env_vars,
        )
        self.environment = aws.elasticbeanstalk.Environment(
            f"{name}-env",
            name=args.environment_name,
            application=self.application.name,
            solution_stack_name=solution_stack,
            wait_for_ready_timeout=f"{args.deploy_timeout_minutes}m",
            tier="WebServer",
            version=self.version_name,
            settings=[
                aws.elasticbeanstalk.EnvironmentSettingArgs(namespace=ns, name=key, value=value)
                for ns, key, value in settings
            ],
            tags=tags,
            # Instances must boot with their permissions already in place.
            opts=pulumi.ResourceOptions(parent=self, depends_on=permissions),
        )
        self.endpoint = api_endpoint(args, self.environment.cname)

        self.register_outputs(
            {
                "application_name": self.application.name,
                "environment_name": self.environment.name,
                "app_version": self.version_name,
                "api_url": self.endpoint,
                "eb_cname": self.environment.cname,
            }
        )

    def _iam(
        self, name: str, args: AppEnvironmentArgs, tags: dict[str, str]
    ) -> list[pulumi.Resource]:
        child = pulumi.ResourceOptions(parent=self)
        self.instance_role = aws.iam.Role(
            f"{name}-ec2",
            description="Elastic Beanstalk instances of the Passport Photo backend",
            assume_role_policy=to_json(assume_role_policy("ec2.amazonaws.com")),
            tags=tags,
            opts=child,
        )
        self.service_role = aws.iam.Role(
            f"{name}-eb-service",
            description="Elastic Beanstalk service role (enhanced health, managed updates)",
            assume_role_policy=to_json(
                assume_role_policy("elasticbeanstalk.amazonaws.com", "elasticbeanstalk")
            ),
            tags=tags,
            opts=child,
        )
        attachments: list[pulumi.Resource] = []
        for role, policies, short in (
            (self.instance_role, EC2_MANAGED_POLICIES, "ec2"),
            (self.service_role, SERVICE_MANAGED_POLICIES, "eb-service"),
        ):
            for policy in policies:
                suffix = policy.rsplit("/", 1)[-1].removeprefix("AWSElasticBeanstalk").lower()
                attachments.append(
                    aws.iam.RolePolicyAttachment(
                        f"{name}-{short}-{suffix}",
                        role=role.name,
                        policy_arn=managed_policy_arn(args.region, policy),
                        opts=child,
                    )
                )

        access = args.data_access
        data_policy = aws.iam.RolePolicy(
            f"{name}-ec2-data",
            role=self.instance_role.id,
            policy=pulumi.Output.all(
                email_table_arn=access.email_table_arn,
                analytics_table_arn=access.analytics_table_arn,
                media_bucket_arn=access.media_bucket_arn,
                artifact_bucket_arn=access.artifact_bucket_arn,
                ses_identity_arn=access.ses_identity_arn,
                sender_email=access.sender_email,
                ses_configuration_set_arn=access.ses_configuration_set_arn,
            ).apply(lambda arns: to_json(app_data_policy(**arns))),
            opts=child,
        )
        self.instance_profile = aws.iam.InstanceProfile(
            f"{name}-ec2", role=self.instance_role.name, tags=tags, opts=child
        )
        return [*attachments, data_policy, self.instance_profile]
