"""`up` for dev and prod realises every resource with the settings the stack file declares.

Everything is read back through boto3 from the stack's own moto server — not from the mocks'
bookkeeping — and the expectations come from `Pulumi.<stack>.yaml`, so a handler that drops a
setting, or a moto that ignores it, fails here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from app.bundle import bundle_label
from common.contracts import OUTPUTS
from sandbox.realise.filter_patterns import matches
from tests.support.sandbox_stacks import Deployed, deploy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest, state_root: Path) -> Iterator[Deployed]:
    deployed = deploy(request.param, state_root)
    yield deployed
    deployed.engine.destroy()


def test_outputs_follow_the_contract_and_are_on_disk(stack: Deployed) -> None:
    out = stack.outputs
    assert list(out) == list(OUTPUTS)  # the contract, realised and on disk
    assert out["ses_dns_records"] == []  # an email identity: no DNS records to add by hand
    assert out["stack"] == stack.engine.stack
    assert out["cors_allowed_origins"] == stack.setting("corsAllowedOrigins")
    assert out["max_upload_mb"] == stack.setting("maxUploadMb")
    assert out["latency_budget_ms"] == stack.setting("latencyBudgetMs")
    assert out["load_test"]["runInPipeline"] is (stack.engine.stack == "prod")
    assert json.loads(stack.engine.paths.outputs.read_text()) == out
    assert out["api_url"] == stack.engine.status()["app_url"]


def test_tables_have_keys_index_ttl_pitr_sse_and_protection(stack: Deployed) -> None:
    ddb = stack.client("dynamodb")
    protected = stack.setting("deletionProtection")
    for name in (stack.outputs["email_table"], stack.outputs["analytics_table"]):
        table = ddb.describe_table(TableName=name)["Table"]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table["SSEDescription"]["Status"] == "ENABLED"
        assert table["DeletionProtectionEnabled"] is protected
        backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        pitr = backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]
        assert pitr == "ENABLED"
        tags = {
            t["Key"]: t["Value"]
            for t in ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
        }
        assert tags["stack"] == stack.engine.stack and tags["managed-by"] == "pulumi"
    email = ddb.describe_table(TableName=stack.outputs["email_table"])["Table"]
    assert email["KeySchema"] == [{"AttributeName": "email", "KeyType": "HASH"}]
    (index,) = email["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "token-hash-index"
    assert index["KeySchema"] == [{"AttributeName": "token_hash", "KeyType": "HASH"}]
    assert index["Projection"]["ProjectionType"] == "ALL"
    ttl = ddb.describe_time_to_live(TableName=stack.outputs["email_table"])["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    analytics = ddb.describe_table(TableName=stack.outputs["analytics_table"])["Table"]
    assert analytics["KeySchema"] == [{"AttributeName": "event_id", "KeyType": "HASH"}]
    ttl = ddb.describe_time_to_live(TableName=stack.outputs["analytics_table"])
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires_at",
    }


def test_buckets_are_versioned_encrypted_private_and_tls_only(stack: Deployed) -> None:
    s3 = stack.client("s3")
    for bucket in (stack.outputs["artifact_bucket"], stack.outputs["media_bucket"]):
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert block == dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"),
            True,
        )
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        (statement,) = policy["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    media = stack.outputs["media_bucket"]
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=media)["Rules"]}
    assert rules["expire-photos"]["Expiration"]["Days"] == stack.setting("photoRetentionDays")
    assert rules["expire-photos"]["Status"] == "Enabled"
    (cors,) = s3.get_bucket_cors(Bucket=media)["CORSRules"]
    assert cors["AllowedOrigins"] == stack.setting("corsAllowedOrigins")
    assert sorted(cors["AllowedMethods"]) == ["GET", "HEAD"]
    artifact_rules = s3.get_bucket_lifecycle_configuration(Bucket=stack.outputs["artifact_bucket"])
    assert [r["ID"] for r in artifact_rules["Rules"]] == ["expire-old-bundle-versions"]


def test_bundle_object_is_the_deployed_version(stack: Deployed) -> None:
    s3 = stack.client("s3")
    label = stack.outputs["app_version"]
    key = f"bundles/{label}.zip"
    body = s3.get_object(Bucket=stack.outputs["artifact_bucket"], Key=key)["Body"].read()
    path = stack.engine.paths.dir / "fetched.zip"
    path.write_bytes(body)
    assert bundle_label(path) == label  # the object's bytes are exactly the deployed version


def test_iam_roles_profile_and_policies(stack: Deployed) -> None:
    iam = stack.client("iam")
    roles = [
        r
        for r in iam.list_roles()["Roles"]
        if r["RoleName"].startswith(f"passport-{stack.engine.stack}-")
    ]
    by_service = {
        json.dumps(r["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]): r
        for r in roles
    }
    ec2 = by_service['"ec2.amazonaws.com"']
    service = by_service['"elasticbeanstalk.amazonaws.com"']
    attached = {
        p["PolicyName"]
        for p in iam.list_attached_role_policies(RoleName=ec2["RoleName"])["AttachedPolicies"]
    }
    assert attached == {"AWSElasticBeanstalkWebTier"}
    attached = {
        p["PolicyName"]
        for p in iam.list_attached_role_policies(RoleName=service["RoleName"])["AttachedPolicies"]
    }
    assert attached == {
        "AWSElasticBeanstalkEnhancedHealth",
        "AWSElasticBeanstalkManagedUpdatesCustomerRolePolicy",
    }
    (inline,) = iam.list_role_policies(RoleName=ec2["RoleName"])["PolicyNames"]
    doc = iam.get_role_policy(RoleName=ec2["RoleName"], PolicyName=inline)["PolicyDocument"]
    resources = json.dumps(doc)
    assert stack.outputs["email_table"] in resources and stack.outputs["media_bucket"] in resources
    profiles = iam.list_instance_profiles_for_role(RoleName=ec2["RoleName"])["InstanceProfiles"]
    assert len(profiles) == 1


def test_ses_identity_and_configuration_set(stack: Deployed) -> None:
    ses = stack.client("ses")
    sender = stack.outputs["sender_email"]
    assert sender == stack.setting("senderEmail")
    attrs = ses.get_identity_verification_attributes(Identities=[sender])["VerificationAttributes"]
    assert attrs[sender]["VerificationStatus"] == "Success"
    config_set = stack.client("sesv2").get_configuration_set(
        ConfigurationSetName=stack.outputs["ses_configuration_set"]
    )
    assert config_set["DeliveryOptions"]["TlsPolicy"] == "REQUIRE"
    assert config_set["ReputationOptions"]["ReputationMetricsEnabled"] is True


def test_alarms_notify_the_topic(stack: Deployed) -> None:
    topic = stack.outputs["alarm_topic_arn"]
    sns = stack.client("sns")
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"] == topic
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    alarm_email = stack.config.get("passport-photo-backend:alarmEmail")
    assert [s["Endpoint"] for s in subs] == ([alarm_email] if alarm_email else [])
    alarms = stack.client("cloudwatch").describe_alarms(
        AlarmNamePrefix=f"passport-{stack.engine.stack}-"
    )
    metric_alarms = alarms["MetricAlarms"]
    waf = 1 if stack.config.get("passport-photo-backend:wafRateLimit") else 0  # prod, staging
    assert len(metric_alarms) == 8 + waf
    assert all(a["AlarmActions"] == [topic] and a["OKActions"] == [topic] for a in metric_alarms)
    latency = next(a for a in metric_alarms if "latency-p99" in a["AlarmName"])
    assert latency["Threshold"] == stack.setting("latencyBudgetMs") / 1000
    math = [a for a in metric_alarms if a.get("Metrics")]
    assert len(math) == 5  # 5xx rate + throttles/errors per table use metric math


def test_eb_application_and_environment_registered(stack: Deployed) -> None:
    eb = stack.client("elasticbeanstalk")
    app = stack.outputs["application_name"]
    assert [a["ApplicationName"] for a in eb.describe_applications()["Applications"]] == [app]
    envs = eb.describe_environments(ApplicationName=app)["Environments"]
    assert [e["EnvironmentName"] for e in envs] == [stack.outputs["environment_name"]]


def test_api_url_serves_the_deployed_version(stack: Deployed) -> None:
    resp = requests.get(f"{stack.outputs['api_url']}/health", timeout=10)
    assert resp.status_code == 200
    assert resp.json()["version"] == stack.outputs["app_version"]
    assert resp.json()["model"] == stack.setting("backgroundRemovalModel")


def test_waf_rate_rule_guards_the_load_balancer_where_configured(stack: Deployed) -> None:
    limit = stack.config.get("passport-photo-backend:wafRateLimit")
    waf = stack.client("wafv2")
    acls = waf.list_web_acls(Scope="REGIONAL")["WebACLs"]
    if not limit:  # dev: the app's own limits only
        assert acls == []
        return
    (summary,) = acls
    acl = waf.get_web_acl(Name=summary["Name"], Scope="REGIONAL", Id=summary["Id"])["WebACL"]
    (rule,) = acl["Rules"]
    assert rule["Statement"]["RateBasedStatement"]["Limit"] == limit
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    # The association names the environment's load balancer (EB reports the ALB by its ARN).
    env_id = hashlib.sha256(
        f"{stack.engine.stack}/{stack.outputs['environment_name']}".encode()
    ).hexdigest()[:10]
    alb = (
        f"arn:aws:elasticloadbalancing:{stack.outputs['region']}:123456789012:"
        f"loadbalancer/app/awseb-{env_id}/{env_id}"
    )
    assert waf.get_web_acl_for_resource(ResourceArn=alb)["WebACL"]["ARN"] == summary["ARN"]
    alarm = stack.client("cloudwatch").describe_alarms(
        AlarmNamePrefix=f"passport-{stack.engine.stack}-rate-limited"
    )["MetricAlarms"]
    assert [a["MetricName"] for a in alarm] == ["BlockedRequests"]


def test_rejected_requests_filter_counts_the_apps_own_429s(stack: Deployed) -> None:
    """Every stack (dev has no WAF): a metric filter on the group EB streams the app's stdout to,
    and an alarm on its metric. The pattern is proved against the access log the real app wrote
    under gunicorn in this sandbox: its 429 lines match (also behind EB's rsyslog prefix), others
    do not."""
    env = stack.outputs["environment_name"]
    group = f"/aws/elasticbeanstalk/{env}/var/log/web.stdout.log"
    (flt,) = stack.client("logs").describe_metric_filters(logGroupName=group)["metricFilters"]
    (mt,) = flt["metricTransformations"]
    assert (mt["metricNamespace"], mt["metricName"], mt["metricValue"]) == (
        f"PassportPhoto/{env}",
        "RejectedRequests",
        "1",
    )
    (alarm,) = stack.client("cloudwatch").describe_alarms(
        AlarmNamePrefix=f"passport-{stack.engine.stack}-app-rejected"
    )["MetricAlarms"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (mt["metricNamespace"], "RejectedRequests")
    assert alarm["AlarmActions"] == [stack.outputs["alarm_topic_arn"]]

    url = f"{stack.outputs['api_url']}/api/v1/email/validate"
    body = {"email": "metric-filter@example.com"}
    answers = [requests.post(url, json=body, timeout=30) for _ in range(2)]
    assert [r.status_code for r in answers] == [202, 429]  # the resend cooldown
    rejected_id = answers[1].headers["X-Request-Id"]
    # Another client error must not count: only 429 is a rejection.
    assert requests.post(url, json={"email": "not-an-address"}, timeout=30).status_code == 400
    lines = [
        line
        for log in stack.engine.paths.logs.glob("app-*.log")
        for line in log.read_text().splitlines()
        if '"logger":"passport_app.access"' in line
    ]
    (rejected,) = [line for line in lines if rejected_id in line]
    served = [line for line in lines if '"status":429' not in line]
    assert '"status":429' in rejected and any('"status":400' in line for line in served)
    pattern = flt["filterPattern"]
    assert matches(pattern, rejected)
    assert matches(pattern, f"Nov 22 02:45:56 ip-10-0-0-1 web[1234]: {rejected}")
    assert not any(matches(pattern, line) for line in served)
