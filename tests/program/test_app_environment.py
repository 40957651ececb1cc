"""Elastic Beanstalk: bundle and version, option settings, env vars, least-privilege IAM."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.backend import BackendArgs, PassportPhotoBackend
from components.config import DEFAULT_SOLUTION_STACK, load_stack_config
from components.eb_settings import EnvironmentShape, deployment_settings, option_settings
from components.iam_policies import DYNAMODB_ACTIONS
from components.naming import resource_prefix
from tests.support.graph_checks import settings_map
from tests.support.program_graph import (
    FakeBundle,
    Graph,
    build_graph,
    make_fake_bundle,
    run_mocked,
)
from tests.support.recording_mocks import SOLUTION_STACK_TOKEN
from tests.support.stack_files import stack_file_config

ENV = "aws:elasticbeanstalk/environment:Environment"
CONTRACT_ENV_VARS = {
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
    "RATE_LIMIT_EXEMPT_CIDRS",
    "FORCE_HTTPS",
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


def test_platform_is_pinned_by_config_not_looked_up(stack_graph: Graph) -> None:
    """Issue 10 item 7: no `most_recent=True` lookup at every run; the stack config decides."""
    assert stack_graph.one(ENV).inputs["solutionStackName"] == DEFAULT_SOLUTION_STACK
    assert SOLUTION_STACK_TOKEN not in [token for token, _ in stack_graph.calls]


@pytest.mark.parametrize(("stack", "minutes"), [("dev", 25), ("staging", 40), ("prod", 60)])
def test_deploys_wait_long_enough_for_the_ml_stack(
    stack_graphs: dict[str, Graph], stack: str, minutes: int
) -> None:
    """Issue 10 item 13: Terraform's 20-minute default cuts off an Immutable prod deploy."""
    assert stack_graphs[stack].one(ENV).inputs["waitForReadyTimeout"] == f"{minutes}m"


def test_environment_settings_per_stack(stack_graphs: dict[str, Graph]) -> None:
    expected = {
        "dev": ("t3.small", "1", "1", "AllAtOnce", "7"),
        "staging": ("t3.medium", "1", "3", "RollingWithAdditionalBatch", "30"),
        "prod": ("c7i.large", "2", "6", "TrafficSplitting", "365"),
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


def test_the_canary_gets_its_split_and_per_instance_metrics(stack_graphs: dict[str, Graph]) -> None:
    """prod's canary: the split from the `canary` key, and the per-instance request and latency
    metrics published (the judge's figures per instance in CloudWatch); dev publishes none."""
    prod, dev = settings_map(stack_graphs["prod"]), settings_map(stack_graphs["dev"])
    split = "aws:elasticbeanstalk:trafficsplitting"
    assert (prod[(split, "NewVersionPercent")], prod[(split, "EvaluationTime")]) == ("50", "10")
    doc_key = ("aws:elasticbeanstalk:healthreporting:system", "ConfigDocument")
    instance = json.loads(prod[doc_key])["CloudWatchMetrics"]["Instance"]
    assert {"ApplicationRequests5xx", "ApplicationRequestsTotal", "ApplicationLatencyP90"} <= set(
        instance
    )
    assert set(instance.values()) == {60}
    assert json.loads(dev[doc_key])["CloudWatchMetrics"]["Instance"] == {}
    assert (split, "NewVersionPercent") not in dev


def test_app_env_vars_match_the_contract_and_the_resources(stack_graph: Graph) -> None:
    s = settings_map(stack_graph)
    env = {name: value for (ns, name), value in s.items() if ns == APP_ENV}
    out = stack_graph.outputs
    assert set(env) == CONTRACT_ENV_VARS  # no APP_VERSION: the app reads it from the bundle
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
        # lists that may be empty (no CORS origins in dev, no load generators to exempt)
        if s["name"] not in ("CORS_ALLOWED_ORIGINS", "RATE_LIMIT_EXEMPT_CIDRS")
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
    # SES's sandbox authorises the recipient's identity too: every identity of this account and
    # region, but only when sending as our sender (issue 10, item 4).
    assert statements["SendMail"]["Resource"] == [identity.rsplit("/", 1)[0] + "/*", config_set]
    sender = g.outputs["sender_email"]
    assert statements["SendMail"]["Condition"] == {"StringEquals": {"ses:FromAddress": sender}}
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


def test_a_new_bundle_changes_only_the_version_label(tmp_path, fake_bundle: FakeBundle) -> None:
    """One change per deploy: new code moves the version label, never the option settings.

    AWS documents UpdateEnvironment as refusing a version and a configuration change at once.
    """
    other = tmp_path / "other"
    other.mkdir()
    newer = make_fake_bundle(other, extra=b"# new code\n")
    assert newer.version_label != fake_bundle.version_label
    before = build_graph("staging", stack_file_config("staging"), fake_bundle).one(ENV)
    after = build_graph("staging", stack_file_config("staging"), newer).one(ENV)
    assert before.inputs["settings"] == after.inputs["settings"]
    assert before.inputs["version"] != after.inputs["version"]


def test_an_existing_version_is_referenced_and_eb_retires_old_ones(
    fake_bundle: FakeBundle,
) -> None:
    """Rollback under EB's rules: no second CreateApplicationVersion for a label EB holds."""

    def program(registered: bool):
        def run():
            cfg = load_stack_config()
            backend = PassportPhotoBackend(
                resource_prefix(cfg.stack),
                BackendArgs(
                    cfg, fake_bundle.path, fake_bundle.version_label, version_registered=registered
                ),
            )
            return pulumi.Output.all(**backend.stack_outputs())

        return run

    mocks, outputs = run_mocked("staging", stack_file_config("staging"), program(True))
    types = [r.typ for r in mocks.registered()]
    assert "aws:elasticbeanstalk/applicationVersion:ApplicationVersion" not in types
    env = next(r for r in mocks.registered() if r.typ == ENV)
    assert env.inputs["version"] == fake_bundle.version_label == outputs["app_version"]
    app = next(
        r for r in mocks.registered() if r.typ == "aws:elasticbeanstalk/application:Application"
    )
    lifecycle = app.inputs["appversionLifecycle"]
    assert lifecycle["maxCount"] >= 10 and lifecycle["deleteSourceFromS3"] is False
    service_role = next(r for r in mocks.registered() if r.name.endswith("-eb-service"))
    assert lifecycle["serviceRole"] == service_role.state["arn"]
    fresh, _ = run_mocked("staging", stack_file_config("staging"), program(False))
    version = next(
        r
        for r in fresh.registered()
        if r.typ == "aws:elasticbeanstalk/applicationVersion:ApplicationVersion"
    )
    assert version.options["retain_on_delete"] is True  # EB's lifecycle retires it, not Pulumi


def test_a_sender_domain_gets_easy_dkim_and_route53_records(fake_bundle: FakeBundle) -> None:
    """Issue 10 item 4: a domain identity verifies itself once its DKIM CNAMEs are in DNS."""
    config = {
        **stack_file_config("staging"),
        "passport-photo-backend:senderDomain": "passportphoto.example.com",
        "passport-photo-backend:senderEmail": "noreply@passportphoto.example.com",
    }
    exported = build_graph("staging", config, fake_bundle)
    identity = exported.one("aws:sesv2/emailIdentity:EmailIdentity")
    assert identity.inputs["emailIdentity"] == "passportphoto.example.com"
    assert identity.inputs["dkimSigningAttributes"]["nextSigningKeyLength"] == "RSA_2048_BIT"
    assert not exported.of_type("aws:ses/emailIdentity:EmailIdentity")
    assert not exported.of_type("aws:route53/record:Record")
    records = exported.outputs["ses_dns_records"]
    assert len(records) == 3 and all(r["type"] == "CNAME" for r in records)
    assert all(r["name"].endswith("._domainkey.passportphoto.example.com") for r in records)
    assert all(r["value"].endswith(".dkim.amazonses.com") for r in records)

    routed = build_graph(
        "staging",
        {**config, "passport-photo-backend:route53ZoneId": "Z0123456789ABCDEFGHIJ"},
        fake_bundle,
    )
    cnames = routed.of_type("aws:route53/record:Record")
    assert len(cnames) == 3 and routed.outputs["ses_dns_records"] == []
    assert {r.inputs["zoneId"] for r in cnames} == {"Z0123456789ABCDEFGHIJ"}
    assert {r.inputs["records"][0] for r in cnames} == {r["value"] for r in records}


def test_a_certificate_adds_an_https_listener_and_an_https_api_url(
    fake_bundle: FakeBundle,
) -> None:
    """Issue 10 item 9: certificateArn → HTTPS listener on the ALB, api_url https://."""
    ns = "passport-photo-backend:"
    cert = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666"
    subnets = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    public = ["subnet-0aaaaaaaaaaaaaaa0", "subnet-0aaaaaaaaaaaaaaa1"]
    config = {
        **{k: v for k, v in stack_file_config("staging").items() if "allowInsecure" not in k},
        ns + "certificateArn": cert,
        ns + "vpcId": "vpc-0123456789abcdef0",
        ns + "subnets": subnets,
        ns + "elbSubnets": public,
    }
    graph = build_graph("staging", config, fake_bundle)
    s = settings_map(graph)
    assert s[("aws:elbv2:listener:443", "Protocol")] == "HTTPS"
    assert s[("aws:elbv2:listener:443", "SSLCertificateArns")] == cert
    assert s[("aws:elbv2:listener:443", "ListenerEnabled")] == "true"
    assert s[("aws:ec2:vpc", "VPCId")] == "vpc-0123456789abcdef0"
    # Issue 21 item 2: the ALB in its (public) subnets, the instances in theirs (private, no
    # public IP), the scheme stated.
    assert s[("aws:ec2:vpc", "Subnets")] == ",".join(subnets)
    assert s[("aws:ec2:vpc", "ELBSubnets")] == ",".join(public)
    assert s[("aws:ec2:vpc", "AssociatePublicIpAddress")] == "false"
    assert s[("aws:ec2:vpc", "ELBScheme")] == "public"
    # Issue 21 item 1: the certificate is for publicBaseUrl's host, never the EB CNAME, so
    # api_url names that host; the CNAME is its own output (the DNS record to point at).
    assert graph.outputs["api_url"] == "https://api-staging.passportphoto.example.com"
    assert graph.outputs["eb_cname"] and "elasticbeanstalk" not in graph.outputs["api_url"]
    assert graph.outputs["eb_cname"] not in graph.outputs["api_url"]
    assert s[(APP_ENV, "FORCE_HTTPS")] == "true"  # the app redirects HTTP to HTTPS
    plain = settings_map(build_graph("dev", stack_file_config("dev"), fake_bundle))
    assert not [k for k in plain if k[0] in ("aws:elbv2:listener:443", "aws:ec2:vpc")]
    assert plain[(APP_ENV, "FORCE_HTTPS")] == "false"
