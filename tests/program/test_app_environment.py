"""Elastic Beanstalk: bundle and version, option settings, env vars, least-privilege IAM."""

from __future__ import annotations

import json

import pytest

from components.eb_settings import EnvironmentShape, deployment_settings, option_settings
from components.iam_policies import DYNAMODB_ACTIONS
from tests.program.checks import settings_map
from tests.program.harness import FakeBundle, Graph
from tests.program.mocks import SOLUTION_STACK, SOLUTION_STACK_TOKEN

ENV = "aws:elasticbeanstalk/environment:Environment"
CONTRACT_ENV_VARS = {
    "APP_VERSION",
    "EMAIL_TABLE",
    "ANALYTICS_TABLE",
    "MEDIA_BUCKET",
    "SENDER_EMAIL",
    "SES_CONFIGURATION_SET",
    "CORS_ALLOWED_ORIGINS",
    "REMBG_MODEL",
    "U2NET_HOME",
    "MAX_UPLOAD_MB",
    "AWS_REGION",
    "PUBLIC_BASE_URL",
    "ALLOWED_HOSTS",
    "EMAIL_RESEND_COOLDOWN_SECONDS",
    "EMAIL_DAILY_CAP",
    "ANALYTICS_TTL_DAYS",
    "TRUSTED_PROXY_HOPS",
}
APP_ENV = "aws:elasticbeanstalk:application:environment"


def test_bundle_is_uploaded_and_becomes_the_deployed_version(
    stack_graph: Graph, fake_bundle: FakeBundle
) -> None:
    label = fake_bundle.version_label
    bundle = stack_graph.one("aws:s3/bucketObjectv2:BucketObjectv2")
    assert bundle.inputs["bucket"] == stack_graph.outputs["artifact_bucket"]
    assert bundle.inputs["key"] == f"bundles/{label}.zip"
    assert bundle.inputs["source"].path == fake_bundle.path
    # rollback redeploys earlier bundles, so a replaced one must stay in the bucket
    assert bundle.options["retain_on_delete"] is True
    version = stack_graph.one("aws:elasticbeanstalk/applicationVersion:ApplicationVersion")
    assert version.inputs["name"] == label == stack_graph.outputs["app_version"]
    assert version.inputs["bucket"] == stack_graph.outputs["artifact_bucket"]
    assert version.inputs["key"] == bundle.inputs["key"]
    assert version.inputs["application"] == stack_graph.outputs["application_name"]
    env = stack_graph.one(ENV).inputs
    assert env["version"] == label and env["tier"] == "WebServer"


def test_platform_is_the_newest_al2023_python_311(stack_graph: Graph) -> None:
    assert stack_graph.one(ENV).inputs["solutionStackName"] == SOLUTION_STACK
    ((token, args),) = stack_graph.calls
    assert token == SOLUTION_STACK_TOKEN and args["mostRecent"] is True
    assert args["nameRegex"].startswith("^64bit Amazon Linux 2023 ")
    assert args["nameRegex"].endswith("running Python 3\\.11$")


def test_environment_settings_per_stack(stack_graphs: dict[str, Graph]) -> None:
    expected = {
        "dev": ("t3.small", "1", "1", "AllAtOnce", "7"),
        "staging": ("t3.medium", "1", "3", "RollingWithAdditionalBatch", "30"),
        "prod": ("c7i.large", "2", "6", "Immutable", "365"),
    }
    for stack, (itype, low, high, policy, retention) in expected.items():
        s = settings_map(stack_graphs[stack])
        assert s[("aws:ec2:instances", "InstanceTypes")] == itype
        assert s[("aws:autoscaling:asg", "MinSize")] == low
        assert s[("aws:autoscaling:asg", "MaxSize")] == high
        assert s[("aws:elasticbeanstalk:command", "DeploymentPolicy")] == policy
        assert s[("aws:elasticbeanstalk:cloudwatch:logs", "RetentionInDays")] == retention
        assert s[("aws:elasticbeanstalk:cloudwatch:logs:health", "RetentionInDays")] == retention


def test_enhanced_health_managed_updates_and_logs(stack_graph: Graph) -> None:
    s = settings_map(stack_graph)
    profile = stack_graph.one("aws:iam/instanceProfile:InstanceProfile").state["name"]
    service_role = stack_graph.one("aws:iam/role:Role", "-eb-service").state["arn"]
    assert s[("aws:elasticbeanstalk:healthreporting:system", "SystemType")] == "enhanced"
    assert s[("aws:autoscaling:launchconfiguration", "IamInstanceProfile")] == profile
    assert s[("aws:elasticbeanstalk:environment", "ServiceRole")] == service_role
    assert s[("aws:elasticbeanstalk:environment:process:default", "HealthCheckPath")] == "/health"
    assert s[("aws:elasticbeanstalk:managedactions", "ManagedActionsEnabled")] == "true"
    assert s[("aws:elasticbeanstalk:managedactions:platformupdate", "UpdateLevel")] == "minor"
    assert s[("aws:elasticbeanstalk:cloudwatch:logs", "StreamLogs")] == "true"
    assert s[("aws:elasticbeanstalk:cloudwatch:logs", "DeleteOnTerminate")] == "false"
    assert s[("aws:autoscaling:launchconfiguration", "DisableIMDSv1")] == "true"
    document = json.loads(s[("aws:elasticbeanstalk:healthreporting:system", "ConfigDocument")])
    published = document["CloudWatchMetrics"]["Environment"]
    assert {"ApplicationRequests5xx", "ApplicationRequestsTotal", "ApplicationLatencyP99"} <= set(
        published
    )


def test_app_env_vars_match_the_contract_and_the_resources(stack_graph: Graph) -> None:
    s = settings_map(stack_graph)
    env = {name: value for (ns, name), value in s.items() if ns == APP_ENV}
    out = stack_graph.outputs
    assert set(env) == CONTRACT_ENV_VARS
    assert env["APP_VERSION"] == out["app_version"]
    assert env["EMAIL_TABLE"] == out["email_table"]
    assert env["ANALYTICS_TABLE"] == out["analytics_table"]
    assert env["MEDIA_BUCKET"] == out["media_bucket"]
    assert env["SENDER_EMAIL"] == out["sender_email"]
    assert env["SES_CONFIGURATION_SET"] == out["ses_configuration_set"]
    assert env["CORS_ALLOWED_ORIGINS"] == ",".join(out["cors_allowed_origins"])
    assert env["REMBG_MODEL"] == "u2netp"
    assert env["U2NET_HOME"] == "models"
    assert env["MAX_UPLOAD_MB"] == str(out["max_upload_mb"])
    assert env["AWS_REGION"] == out["region"]


def test_settings_are_unique_and_only_applicable_ones(stack_graph: Graph) -> None:
    settings = stack_graph.one(ENV).inputs["settings"]
    keys = [(s["namespace"], s["name"]) for s in settings]
    assert len(keys) == len(set(keys)), "duplicate option settings"
    assert all(
        isinstance(s["value"], str) and s["value"] != ""
        for s in settings
        if s["name"] != "CORS_ALLOWED_ORIGINS"
    )


@pytest.mark.parametrize(
    ("policy", "present", "absent"),
    [
        ("AllAtOnce", set(), {"BatchSize", "NewVersionPercent", "RollingUpdateType"}),
        ("Rolling", {"BatchSize", "BatchSizeType"}, {"NewVersionPercent"}),
        ("RollingWithAdditionalBatch", {"BatchSize", "RollingUpdateType"}, {"EvaluationTime"}),
        ("Immutable", {"RollingUpdateType"}, {"BatchSize", "NewVersionPercent"}),
        ("TrafficSplitting", {"NewVersionPercent", "EvaluationTime"}, {"BatchSize"}),
    ],
)
def test_deployment_settings_only_where_they_apply(
    policy: str, present: set[str], absent: set[str]
) -> None:
    names = {name for _, name, _ in deployment_settings(policy)}
    assert ("DeploymentPolicy" in names) and present <= names and not (absent & names)


def test_option_settings_pure_function_carries_env_vars_sorted() -> None:
    shape = EnvironmentShape("t3.small", 1, 2, "Rolling", 14)
    settings = option_settings(
        shape, instance_profile="ip", service_role="arn:role", env_vars={"B": "2", "A": "1"}
    )
    app_env = [(name, value) for ns, name, value in settings if ns == APP_ENV]
    assert app_env == [("A", "1"), ("B", "2")]


def _policy(graph: Graph) -> dict:
    return json.loads(graph.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])


def test_instance_data_policy_is_scoped_to_this_stacks_arns(stack_graph: Graph) -> None:
    g = stack_graph
    tables = [g.one("aws:dynamodb/table:Table", s).state["arn"] for s in ("-emails", "-analytics")]
    media = g.one("aws:s3/bucket:Bucket", "-media").state["arn"]
    artifacts = g.one("aws:s3/bucket:Bucket", "-artifacts").state["arn"]
    identity = g.one("aws:ses/emailIdentity:EmailIdentity").state["arn"]
    config_set = g.one("aws:ses/configurationSet:ConfigurationSet").state["arn"]
    statements = {s["Sid"]: s for s in _policy(g)["Statement"]}

    assert statements["Tables"]["Resource"] == tables + [f"{t}/index/*" for t in tables]
    assert statements["Tables"]["Action"] == list(DYNAMODB_ACTIONS)
    assert statements["MediaObjects"]["Resource"] == [f"{media}/*"]
    assert statements["MediaList"]["Resource"] == [media]
    assert statements["ReadBundles"]["Resource"] == [f"{artifacts}/bundles/*"]
    assert statements["ReadBundles"]["Action"] == ["s3:GetObject"]
    assert statements["SendMail"]["Resource"] == [identity, config_set]
    assert set(statements["SendMail"]["Action"]) == {"ses:SendEmail", "ses:SendRawEmail"}
    for statement in statements.values():
        assert statement["Effect"] == "Allow"
        assert all(r != "*" and not r.endswith(":*") for r in statement["Resource"])
        assert all("*" not in action for action in statement["Action"])


def test_instance_role_trusts_ec2_and_service_role_trusts_eb(stack_graph: Graph) -> None:
    ec2 = json.loads(stack_graph.one("aws:iam/role:Role", "-ec2").inputs["assumeRolePolicy"])
    assert ec2["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    service = json.loads(
        stack_graph.one("aws:iam/role:Role", "-eb-service").inputs["assumeRolePolicy"]
    )
    (statement,) = service["Statement"]
    assert statement["Principal"] == {"Service": "elasticbeanstalk.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": "elasticbeanstalk"}}


def test_managed_policies(stack_graph: Graph) -> None:
    roles = {r.state["name"]: r.name for r in stack_graph.of_type("aws:iam/role:Role")}
    attached = {
        (roles[a.inputs["role"]].rsplit("-", 1)[-1], a.inputs["policyArn"])
        for a in stack_graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert attached == {
        ("ec2", "arn:aws:iam::aws:policy/AWSElasticBeanstalkWebTier"),
        ("service", "arn:aws:iam::aws:policy/service-role/AWSElasticBeanstalkEnhancedHealth"),
        ("service", "arn:aws:iam::aws:policy/AWSElasticBeanstalkManagedUpdatesCustomerRolePolicy"),
    }


def test_environment_waits_for_its_permissions(stack_graph: Graph) -> None:
    depends = stack_graph.one(ENV).options["dependencies"]
    for typ in (
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/instanceProfile:InstanceProfile",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    ):
        for resource in stack_graph.of_type(typ):
            assert any(urn.endswith(f"{typ}::{resource.name}") for urn in depends), resource.name
