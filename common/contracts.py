"""What the parts exchange, written once: stack outputs, the bundle hand-over, resource types.

- **Stack outputs**: the program exports exactly `OUTPUTS` (components/backend.py), verify
  validates against it (verify/outputs.py), and a test ties the two together. Adding an output
  is one entry here.
- **Bundle hand-over**: the engines name a prebuilt source bundle to the Pulumi program through
  two environment variables (the program runs in another process under the real engine).
- **Sandbox credentials**: the fake keys a sandbox stack's moto accepts; verify and the
  automation point boto3 at a sandbox stack with them.
- **Resource types**: the Pulumi type tokens that the program, the sandbox's realisers and the
  policy rules all name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

#: Every key the program exports (docs/contracts.md), with its JSON type.
OUTPUTS: Final = MappingProxyType(
    {
        "stack": str,
        "region": str,
        "api_url": str,
        "environment_name": str,
        "application_name": str,
        "app_version": str,
        "artifact_bucket": str,
        "media_bucket": str,
        "email_table": str,
        "analytics_table": str,
        "sender_email": str,
        "ses_configuration_set": str,
        "alarm_topic_arn": str,
        "cors_allowed_origins": list,
        "latency_budget_ms": int,
        "max_upload_mb": int,
        "ses_dns_records": list,  # DKIM CNAMEs still to add by hand (named by a BLOCKED ses check)
        "load_test": dict,
        # The environment's CNAME: the DNS record to point publicBaseUrl's host at (with a
        # certificate, api_url is https://<that host>, the name the certificate is for).
        "eb_cname": str,
        # The stack's CloudWatch dashboard (traffic next to deployments) in the AWS console.
        "dashboard_url": str,
    }
)

#: Where the pipeline puts its deployment metrics (automation/notify.py) and the stack's
#: dashboard shows them (components/dashboard.py): per stack, dimension Stack.
DEPLOYMENTS_NAMESPACE: Final = "PassportPhoto/Deployments"

#: Path of a prebuilt source bundle for the program to deploy instead of building app/.
BUNDLE_ENV: Final = "PASSPORT_APP_BUNDLE"
#: The platform (SolutionStackName) the stack's live EB environment runs, when it has one: the
#: program declares it instead of an older pin of the same branch (common/platforms.py).
LIVE_PLATFORM_ENV: Final = "PASSPORT_EB_LIVE_PLATFORM"
#: "true" when EB already holds an application version with the bundle's label (a rollback, a
#: redeploy): EB refuses to create a label twice per application, so the program references it.
VERSION_EXISTS_ENV: Final = "PASSPORT_APP_VERSION_EXISTS"


def version_exists_env(label: str, *, eb_holds: bool, managed: Iterable[str]) -> dict[str, str]:
    """The program's `VERSION_EXISTS_ENV` for a bundle label, decided the same by both engines.

    EB holds the label but no version resource of the stack's state manages it: a rollback (or
    a redeploy after the resource left the state), so the program must reference the label, as
    EB refuses to create it twice. A label the state manages is declared again as it is (no
    change), so a plain redeploy previews as "same".
    """
    if eb_holds and label not in set(managed):
        return {VERSION_EXISTS_ENV: "true"}
    return {}


def managed_version_labels(resources: Iterable[Mapping[str, Any]]) -> list[str]:
    """Labels of the application versions a stack's state still manages.

    An entry marked `"delete": true` is a replaced version Pulumi deletes at the end of an
    update (create-before-delete); a failed `up` leaves it in the state. It is not managed any
    more: counting it would make a rollback to that label declare it again, which EB refuses.
    Takes `pulumi stack export` resources (label in `outputs.name`, else the id).
    """
    return [
        str((r.get("outputs") or {}).get("name") or r.get("id"))
        for r in resources
        if r.get("type") == ResourceType.EB_APPLICATION_VERSION and not r.get("delete")
    ]


#: The credentials a sandbox stack's moto server accepts (never real keys).
SANDBOX_AWS_ENV: Final = MappingProxyType(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # pragma: allowlist secret
        "AWS_SESSION_TOKEN": "testing",
    }
)


class ResourceType:
    """Pulumi type tokens of the resources the program declares and the sandbox realises."""

    EB_APPLICATION: Final = "aws:elasticbeanstalk/application:Application"
    EB_APPLICATION_VERSION: Final = "aws:elasticbeanstalk/applicationVersion:ApplicationVersion"
    EB_ENVIRONMENT: Final = "aws:elasticbeanstalk/environment:Environment"
    DYNAMODB_TABLE: Final = "aws:dynamodb/table:Table"
    S3_BUCKET: Final = "aws:s3/bucket:Bucket"
    S3_BUCKET_OBJECT: Final = "aws:s3/bucketObjectv2:BucketObjectv2"
    S3_BUCKET_POLICY: Final = "aws:s3/bucketPolicy:BucketPolicy"
    S3_PUBLIC_ACCESS_BLOCK: Final = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
    S3_VERSIONING: Final = "aws:s3/bucketVersioning:BucketVersioning"
    S3_ENCRYPTION: Final = (
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    IAM_ROLE: Final = "aws:iam/role:Role"
    IAM_ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"
    IAM_POLICY: Final = "aws:iam/policy:Policy"
    IAM_INSTANCE_PROFILE: Final = "aws:iam/instanceProfile:InstanceProfile"
    IAM_ROLE_POLICY_ATTACHMENT: Final = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    SNS_TOPIC: Final = "aws:sns/topic:Topic"
    CLOUDWATCH_ALARM: Final = "aws:cloudwatch/metricAlarm:MetricAlarm"
    CLOUDWATCH_DASHBOARD: Final = "aws:cloudwatch/dashboard:Dashboard"
    LOG_GROUP: Final = "aws:cloudwatch/logGroup:LogGroup"
    LOG_METRIC_FILTER: Final = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
    SES_CONFIGURATION_SET: Final = "aws:ses/configurationSet:ConfigurationSet"
    WAF_WEB_ACL: Final = "aws:wafv2/webAcl:WebAcl"
    WAF_IP_SET: Final = "aws:wafv2/ipSet:IpSet"
    # The sandbox also realises these (other spellings of the same AWS resources, and what a
    # program built on this one may add): each token is still written only here.
    S3_BUCKET_V2: Final = "aws:s3/bucketV2:BucketV2"
    S3_VERSIONING_V2: Final = "aws:s3/bucketVersioningV2:BucketVersioningV2"
    S3_ENCRYPTION_V2: Final = (
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
    )
    S3_LIFECYCLE: Final = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    S3_LIFECYCLE_V2: Final = "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2"
    S3_CORS: Final = "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration"
    S3_CORS_V2: Final = "aws:s3/bucketCorsConfigurationV2:BucketCorsConfigurationV2"
    S3_OWNERSHIP_CONTROLS: Final = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
    S3_BUCKET_OBJECT_V1: Final = "aws:s3/bucketObject:BucketObject"
    SNS_TOPIC_POLICY: Final = "aws:sns/topicPolicy:TopicPolicy"
    SNS_TOPIC_SUBSCRIPTION: Final = "aws:sns/topicSubscription:TopicSubscription"
    SES_EMAIL_IDENTITY: Final = "aws:ses/emailIdentity:EmailIdentity"
    SESV2_EMAIL_IDENTITY: Final = "aws:sesv2/emailIdentity:EmailIdentity"
    SESV2_CONFIGURATION_SET: Final = "aws:sesv2/configurationSet:ConfigurationSet"
    WAF_WEB_ACL_ASSOCIATION: Final = "aws:wafv2/webAclAssociation:WebAclAssociation"
    ROUTE53_RECORD: Final = "aws:route53/record:Record"
