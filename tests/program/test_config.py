"""Stack config validation: every rule, all problems at once, Pulumi's string encoding."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws
import pytest

from common.paths import ROOT
from components.config import (
    AWS_PROVIDER_KEYS,
    KEYS,
    LOG_RETENTION_DAYS,
    PROJECT,
    AbuseConfig,
    StackConfig,
    StackConfigError,
    load_stack_config,
    origin_problem,
    stack_tier,
)
from components.config import parse_stack_config as parse_config
from tests.support.program_graph import as_pulumi_config, run_mocked
from tests.support.stack_files import stack_file_config

NS = f"{PROJECT}:"


def base(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "aws:region": "eu-west-1",
        NS + "senderEmail": "noreply@example.com",
        NS + "alarmEmail": "ops@example.com",
        NS + "minInstances": 2,
        NS + "maxInstances": 4,
        NS + "publicBaseUrl": "https://api.example.com",
    }
    for key, value in overrides.items():
        full = key if ":" in key else NS + key
        if value is None:
            raw.pop(full, None)
        else:
            raw[full] = value
    return raw


def parse_stack_config(stack: str, raw: dict[str, Any]) -> StackConfig:
    """The real parser, with the `environment` key the stack's name suggests when a test's raw
    config leaves it out (every committed stack file sets it; tests below check that it rules).
    """
    if NS + "environment" not in raw and "environment" not in raw:
        raw = {**raw, NS + "environment": stack_tier(stack)}
        if stack_tier(stack) != "dev" and not any("certificateArn" in k for k in raw):
            raw[NS + "allowInsecureHttp"] = True  # these tests are not about HTTPS (see below)
    return parse_config(stack, raw)


def issues_for(stack: str, raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(StackConfigError) as info:
        parse_stack_config(stack, raw)
    return {", ".join(i.keys): str(i) for i in info.value.issues}


def test_stack_files_parse_to_the_documented_shapes() -> None:
    dev = parse_stack_config("dev", stack_file_config("dev"))
    staging = parse_stack_config("staging", stack_file_config("staging"))
    prod = parse_stack_config("prod", stack_file_config("prod"))

    assert (dev.deployment_policy, dev.min_instances, dev.max_instances) == ("AllAtOnce", 1, 1)
    assert dev.deletion_protection is False and dev.alarm_email is None
    assert "http://localhost:3000" in dev.cors_allowed_origins
    assert staging.deployment_policy == "RollingWithAdditionalBatch"
    assert (staging.min_instances, staging.max_instances) == (1, 3)
    assert prod.deployment_policy == "TrafficSplitting" and prod.min_instances >= 2
    assert prod.canary.enabled and prod.canary.new_version_percent == 50
    assert prod.deletion_protection is True and prod.alarm_email
    assert prod.log_retention_days > staging.log_retention_days > dev.log_retention_days
    assert {c.background_removal_model for c in (dev, staging, prod)} == {"u2netp"}


def test_defaults_fill_optional_keys_by_tier() -> None:
    dev = parse_stack_config("dev", {"aws:region": "us-east-1", "senderEmail": "a@example.com"})
    assert dev == StackConfig(
        stack="dev",
        region="us-east-1",
        instance_type="t3.small",
        min_instances=1,
        max_instances=1,
        deployment_policy="AllAtOnce",
        sender_email="a@example.com",
        alarm_email=None,
        cors_allowed_origins=(),
        log_retention_days=30,
        background_removal_model="u2netp",
        self_contained_bundle=False,
        max_upload_mb=10,
        latency_budget_ms=3000,
        photo_retention_days=7,
        deletion_protection=False,
        tags=dev.tags,
    )
    prod = parse_stack_config("prod", base(minInstances=None, maxInstances=None))
    assert (prod.min_instances, prod.max_instances) == (2, 2)
    assert prod.deployment_policy == "Immutable" and prod.deletion_protection is True
    assert parse_stack_config("staging", base()).deployment_policy == "RollingWithAdditionalBatch"


def test_min_greater_than_max_names_both_keys_and_values() -> None:
    issues = issues_for("dev", base(minInstances=3, maxInstances=1))
    message = issues["minInstances, maxInstances"]
    assert "minInstances=3" in message and "maxInstances=1" in message
    assert "minInstances <= maxInstances" in message


def test_prod_rules() -> None:
    issues = issues_for(
        "prod",
        base(
            minInstances=1,
            deploymentPolicy="AllAtOnce",
            alarmEmail=None,
            corsAllowedOrigins=["*", "http://localhost:3000"],
        ),
    )
    assert "at least 2 in prod" in issues["minInstances"]
    assert "AllAtOnce" in issues["deploymentPolicy"]
    assert "required in prod" in issues["alarmEmail"]
    assert "'*' is not allowed in prod" in issues["corsAllowedOrigins"]
    assert "localhost origins are not allowed in prod" in issues["corsAllowedOrigins"]


def test_every_problem_is_reported_at_once_with_value_and_allowed() -> None:
    raw = base(
        minInstances="two",
        deploymentPolicy="BlueGreen",
        senderEmail="not-an-email",
        logRetentionDays=10,
        backgroundRemovalModel="isnet",
        maxUploadMb=51,
        latencyBudgetMs=50,
        photoRetentionDays=0,
        deletionProtection="yes",
        instanceType="t3.huge",
        tags={"aws:owner": "x"},
    )
    raw["aws:region"] = "mars-north-1x"
    with pytest.raises(StackConfigError) as info:
        parse_stack_config("staging", raw)
    err = info.value
    assert err.keys == {
        "aws:region",
        "instanceType",
        "minInstances",
        "deploymentPolicy",
        "senderEmail",
        "logRetentionDays",
        "backgroundRemovalModel",
        "maxUploadMb",
        "latencyBudgetMs",
        "photoRetentionDays",
        "deletionProtection",
        "tags",
    }
    text = str(err)
    assert "stack 'staging' (12 problems)" in text
    assert 'deploymentPolicy: got "BlueGreen"; allowed one of AllAtOnce, Rolling' in text
    assert (
        "logRetentionDays: got 10; allowed one of " + ", ".join(map(str, LOG_RETENTION_DAYS))
        in text
    )
    assert 'minInstances: got "two"; allowed an integer from 1 to 20' in text
    assert "maxUploadMb: got 51; allowed an integer from 1 to 50" in text
    assert 'backgroundRemovalModel: got "isnet"; allowed one of u2netp, u2net' in text
    assert "@-sign" in text  # email-validator's own explanation is kept


def test_unknown_project_keys_are_errors_with_a_suggestion() -> None:
    raw = base()
    raw[NS + "minInstance"] = 2
    raw["aws:profile"] = "ops"  # other namespaces belong to their providers
    issues = issues_for("dev", raw)
    assert set(issues) == {"minInstance"}
    assert "did you mean minInstances?" in issues["minInstance"]


def test_required_keys() -> None:
    issues = issues_for("dev", {})
    assert set(issues) == {"aws:region", "senderEmail"}
    assert "got nothing (the key is required)" in issues["senderEmail"]


def test_pulumi_string_encoding_is_accepted() -> None:
    raw = as_pulumi_config(
        base(
            corsAllowedOrigins=["https://app.example.com:8443"],
            tags={"team": "photos", "cost-center": 1234},
            deletionProtection=True,
            logRetentionDays=14,
        )
    )
    assert all(isinstance(v, str) for v in raw.values())
    cfg = parse_stack_config("staging", raw)
    assert cfg.min_instances == 2 and cfg.log_retention_days == 14
    assert cfg.deletion_protection is True
    assert cfg.cors_allowed_origins == ("https://app.example.com:8443",)
    assert dict(cfg.tags) == {"team": "photos", "cost-center": "1234"}


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("tags", "a map"),
        ({"project": "other"}, "bad keys ['project']"),
        ({"bad key!": "x"}, "bad keys"),
        ({f"k{i}": "v" for i in range(41)}, "41 tags"),
    ],
)
def test_tag_rules(value: Any, why: str) -> None:
    assert why in issues_for("dev", base(tags=value))["tags"]


@pytest.mark.parametrize(
    ("origin", "tier", "problem"),
    [
        ("https://app.example.com", "prod", None),
        ("https://app.example.com:8443", "staging", None),
        ("http://localhost:3000", "staging", None),
        ("http://127.0.0.1:5173", "dev", None),
        ("*", "dev", None),
        ("*", "staging", "'*' is not allowed in staging stacks"),
        ("http://localhost:3000", "prod", "localhost origins are not allowed in prod"),
        ("http://app.example.com", "dev", "plain http is only allowed for localhost"),
        ("https://app.example.com/", "dev", "no path or trailing slash"),
        ("https://App.example.com", "dev", "lowercase"),
        ("https://localhost", "dev", "DNS name"),
        ("https://app.example.com:70000", "dev", "port must be 1..65535"),
        ("ftp://example.com", "dev", "scheme://host"),
    ],
)
def test_origin_rules(origin: str, tier: str, problem: str | None) -> None:
    found = origin_problem(origin, tier)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_email_is_normalised() -> None:
    cfg = parse_stack_config("dev", base(senderEmail="NoReply@Example.COM"))
    assert cfg.sender_email == "NoReply@example.com"


@pytest.mark.parametrize(
    ("stack", "tier"),
    [
        ("dev", "dev"),
        ("feature-x", "dev"),
        ("staging", "staging"),
        ("staging-2", "staging"),
        ("prod", "prod"),
        ("Production", "prod"),
        ("prod-eu", "prod"),
        ("producer", "dev"),
    ],
)
def test_stack_tier(stack: str, tier: str) -> None:
    assert stack_tier(stack) == tier


def test_load_stack_config_reads_the_pulumi_runtime_config() -> None:
    """Under the Pulumi runtime the config arrives as strings; the stack name from the engine."""
    config = stack_file_config("staging")

    def program() -> Any:
        return pulumi.Output.from_input(load_stack_config())

    _, cfg = run_mocked("staging", config, program)
    assert cfg == parse_stack_config("staging", config)


def test_load_stack_config_raises_under_the_runtime() -> None:
    config = {**stack_file_config("dev"), NS + "logRetentionDays": 2}
    with pytest.raises(StackConfigError, match="logRetentionDays: got 2"):
        run_mocked("dev", config, lambda: load_stack_config())


def test_stack_config_is_plain_data() -> None:
    """Reports and the automation layer serialise the config; it must copy and JSON-encode."""
    cfg = parse_stack_config("prod", stack_file_config("prod"))
    assert copy.deepcopy(cfg) == cfg
    encoded = json.loads(json.dumps(dataclasses.asdict(cfg)))
    assert encoded["tags"]["data-classification"] == "personal"
    assert encoded["min_instances"] == 2


def test_load_stack_config_reads_pulumi_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Pulumi CLI's language host hands config to Python as the PULUMI_CONFIG JSON bag."""
    config = as_pulumi_config(stack_file_config("prod"))
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(config))
    _, cfg = run_mocked("prod", {}, lambda: pulumi.Output.from_input(load_stack_config()))
    assert cfg == parse_stack_config("prod", config)


def test_secret_config_values_never_appear_in_errors() -> None:
    """A value set with `pulumi config set --secret` is masked even when it is the bad one."""
    secret_value = "not-an-address-4f1c9e-SECRET"  # pragma: allowlist secret
    config = {**stack_file_config("dev"), "passport-photo-backend:senderEmail": secret_value}
    config["passport-photo-backend:minInstances"] = 3
    pulumi.runtime.set_all_config(
        as_pulumi_config(config), secret_keys=["passport-photo-backend:senderEmail"]
    )
    with pytest.raises(StackConfigError) as info:
        load_stack_config("dev")
    message = str(info.value)
    assert secret_value not in message and "4f1c9e" not in message
    assert "senderEmail: got [secret]; allowed a valid email address" in message
    assert "minInstances, maxInstances: got minInstances=3" in message  # others unchanged


# -- issue 10, item 12: stacks are files, environments are config ------------------------------


def test_the_environment_key_not_the_stack_name_decides_the_rules() -> None:
    review = parse_config("pr-123", base(environment="dev", minInstances=1, maxInstances=1))
    assert review.tier == review.environment == "dev" and review.deletion_protection is False
    issues = issues_for("pr-123", base(environment="prod", minInstances=1, alarmEmail=None))
    assert "at least 2 in prod" in issues["minInstances"]
    assert "required in prod" in issues["alarmEmail"]
    eu = parse_config("eu-live", base(environment="prod", allowInsecureHttp=True))
    assert eu.tier == "prod" and eu.deletion_protection and eu.deployment_policy == "Immutable"


def test_environment_is_required_and_must_match_a_prod_or_staging_name() -> None:
    missing = {k: v for k, v in base().items() if not k.endswith(":environment")}
    with pytest.raises(StackConfigError) as info:
        parse_config("pr-7", missing)
    assert "environment: got nothing (the key is required); allowed one of dev, staging, prod" in (
        str(info.value)
    )
    issues = issues_for("prod-eu", base(environment="dev"))
    assert "prod for stack 'prod-eu'" in issues["environment"]
    assert "one of dev, staging, prod" in issues_for("x", base(environment="qa"))["environment"]


def test_committed_stack_files_name_their_environment() -> None:
    for stack in ("dev", "staging", "prod"):
        assert stack_file_config(stack)[NS + "environment"] == stack


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("passport-photo-backnd:instanceType", "did you mean passport-photo-backend:instanceType?"),
        ("aws:regoin", "did you mean aws:region?"),
        ("aws:profil", "did you mean aws:profile?"),
        ("pasport:maxUploadMb", "keys in the namespaces passport-photo-backend, aws, pulumi"),
    ],
)
def test_misspelt_namespaces_and_provider_keys_fail_with_a_suggestion(key: str, hint: str) -> None:
    issues = issues_for("dev", {**base(), key: "x"})
    assert hint in issues[key]


def test_real_provider_keys_are_accepted() -> None:
    raw = {**base(), "aws:profile": "deploy", "aws:defaultTags": '{"tags": {"a": "b"}}'}
    assert parse_config("dev", {**raw, NS + "environment": "dev"}).region == "eu-west-1"


@pytest.mark.parametrize(
    ("region", "hint"),
    [("eu-wset-1", "did you mean eu-west-1?"), ("us-east-7", "an existing AWS region")],
)
def test_unknown_regions_are_refused(region: str, hint: str) -> None:
    assert hint in issues_for("dev", base(**{"aws:region": region}))["aws:region"]


def test_aws_provider_keys_match_the_installed_sdk() -> None:
    source = (Path(pulumi_aws.__file__).parent / "config" / "vars.py").read_text()
    installed = set(re.findall(r"__config__\.get[a-z_]*\('([A-Za-z0-9]+)'", source))
    assert set(AWS_PROVIDER_KEYS) == installed


# -- issue 10, item 9: HTTPS and VPC ----------------------------------------------------------

CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666"


def test_staging_and_prod_need_a_certificate_or_an_explicit_opt_out() -> None:
    for env in ("staging", "prod"):
        issues = issues_for(f"{env}-x", base(environment=env))
        assert "a certificateArn in " + env in issues["certificateArn, allowInsecureHttp"]
        assert parse_config(f"{env}-x", base(environment=env, certificateArn=CERT)).certificate_arn
        assert parse_config(f"{env}-x", base(environment=env, allowInsecureHttp=True))
    wrong_region = CERT.replace("eu-west-1", "us-east-1")
    assert (
        "stack's region" in issues_for("dev", base(certificateArn=wrong_region))["certificateArn"]
    )
    # HTTP is redirected to https://<publicBaseUrl's host>, so that URL must be https.
    plain = issues_for("dev", base(certificateArn=CERT, publicBaseUrl="http://localhost"))
    assert "an https:// publicBaseUrl" in plain["certificateArn, publicBaseUrl"]


def test_vpc_and_subnets_come_together() -> None:
    subnets = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    public = ["subnet-0aaaaaaaaaaaaaaa0", "subnet-0aaaaaaaaaaaaaaa1"]
    cfg = parse_config(
        "pr-1",
        base(environment="dev", vpcId="vpc-0123456789abcdef0", subnets=subnets, elbSubnets=public),
    )
    assert cfg.vpc_id == "vpc-0123456789abcdef0" and cfg.subnets == tuple(subnets)
    assert cfg.elb_subnets == tuple(public)  # the ALB's own (issue 21: never the instances')
    assert (
        "both, or neither"
        in issues_for("dev", base(vpcId="vpc-0123456789abcdef0"))["vpcId, subnets"]
    )
    assert (
        "at least 2 subnet"
        in issues_for("dev", base(vpcId="vpc-0123456789abcdef0", subnets=subnets[:1]))["subnets"]
    )


def test_abuse_controls_defaults_and_rules() -> None:
    dev = parse_stack_config("dev", base(publicBaseUrl=None)).abuse
    assert (dev.public_base_url, dev.waf_rate_limit) == ("http://localhost", 0)
    staging = parse_stack_config("staging", base()).abuse
    assert staging.waf_rate_limit == 1000 and staging.public_host == "api.example.com"
    assert staging.email_resend_cooldown_s == 60 and staging.email_daily_cap == 5
    issues = issues_for(
        "prod",
        base(
            publicBaseUrl=None,
            wafRateLimit=0,
            emailDailyCap=0,
            allowedHosts=["Not A Host"],
            analyticsRetentionDays=0,
        ),
    )
    assert "required" in issues["publicBaseUrl"]
    assert "required in prod" in issues["wafRateLimit"]
    assert set(issues) >= {"emailDailyCap", "allowedHosts", "analyticsRetentionDays"}
    issues = issues_for("staging", base(publicBaseUrl="http://api.example.com/path"))
    assert "no path" in issues["publicBaseUrl"]


def test_an_instance_too_small_for_the_model_times_workers_is_refused() -> None:
    found = issues_for(
        "dev",
        {
            "aws:region": "us-east-1",
            "senderEmail": "a@example.com",
            "instanceType": "t3.small",
            "backgroundRemovalModel": "u2net",
        },
    )
    message = found["instanceType, backgroundRemovalModel"]
    assert "t3.small has 2048 MiB; u2net needs 2712 MiB" in message
    assert (
        "t3.micro"
        in issues_for(
            "dev",
            {"aws:region": "us-east-1", "senderEmail": "a@example.com", "instanceType": "t3.micro"},
        )["instanceType, backgroundRemovalModel"]
    )


def test_load_test_plan_is_validated_and_exported_with_defaults() -> None:
    prod = parse_stack_config("prod", stack_file_config("prod"))
    assert prod.load_test["runInPipeline"] is True
    assert prod.load_test["thresholds"]["health"]["p95Ms"] == 1000
    found = issues_for(
        "dev",
        {
            "aws:region": "us-east-1",
            "senderEmail": "a@example.com",
            "loadTest": {"peakUsers": 0, "thresholds": {"photo": {"p95Ms": 9000, "p99Ms": 5000}}},
        },
    )
    assert "loadTest.peakUsers" in found and "loadTest.thresholds.photo" in found


def test_rate_limit_exemptions_are_narrow_ipv4_networks() -> None:
    cfg = parse_stack_config("prod", base(environment="prod", allowInsecureHttp=True))
    assert cfg.abuse.rate_limit_exempt_cidrs == ()
    cfg = parse_stack_config(
        "dev", base(environment="dev", rateLimitExemptCidrs=["198.51.100.0/24", "10.1.2.3"])
    )
    assert cfg.abuse.rate_limit_exempt_cidrs == ("198.51.100.0/24", "10.1.2.3/32")
    too_broad = issues_for("dev", base(environment="dev", rateLimitExemptCidrs=["0.0.0.0/0"]))
    assert (
        "/24 or narrower" in too_broad["rateLimitExemptCidrs"]
        and "too broad" in (too_broad["rateLimitExemptCidrs"])
    )
    bad = issues_for("dev", base(environment="dev", rateLimitExemptCidrs=["2001:db8::/64"]))
    assert "IPv4 CIDRs" in bad["rateLimitExemptCidrs"]


# -- issue 19: each key is one row of the table in components/config/keys.py --------------------


def test_every_stack_config_field_is_filled_by_exactly_one_row_of_the_key_table() -> None:
    """The table and the typed StackConfig cannot drift: one row per field, one field per row."""
    rows = [key.field for key in KEYS]
    fields = [f"abuse.{f.name}" for f in dataclasses.fields(AbuseConfig)] + [
        f.name for f in dataclasses.fields(StackConfig) if f.name not in ("stack", "abuse")
    ]
    assert len(rows) == len(set(rows))
    assert sorted(rows) == sorted(fields)


def test_the_readme_documents_every_key_of_the_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    reference = readme.split("## Stack config reference", 1)[1].split("\n## ", 1)[0]
    assert [key.name for key in KEYS if f"`{key.name}`" not in reference] == []


def test_an_invalid_abuse_key_does_not_blame_a_valid_https_public_url() -> None:
    """Only the broken key is reported (the https:// publicBaseUrl with a certificate is fine)."""
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/abc-1"
    issues = issues_for("staging", base(certificateArn=arn, emailDailyCap=0))
    assert set(issues) == {"emailDailyCap"}
    missing = issues_for("staging", base(certificateArn=arn, publicBaseUrl=None))
    assert set(missing) == {"publicBaseUrl"}
