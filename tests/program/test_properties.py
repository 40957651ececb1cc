"""Property tests (hypothesis, >= 100 examples each) for config validation and the graph."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components import naming
from components.config import REGION_KEY, StackConfigError, parse_stack_config
from tests.support.config_strategies import (
    NS,
    any_stack_name,
    invalid_values,
    unknown_keys,
    valid_configs,
)
from tests.support.graph_checks import (
    invalid_names,
    missing_outputs,
    public_access_problems,
    settings_map,
    untagged,
)
from tests.support.program_graph import FakeBundle, build_graph
from tests.support.recording_mocks import autoname

LOGICAL_SUFFIXES = ("artifacts", "media", "emails", "analytics", "ec2", "eb-service", "alarms")


def _plain(raw: dict[str, Any], key: str) -> Any:
    value = raw.get(NS + key)
    if isinstance(value, str) and key in ("corsAllowedOrigins", "tags"):
        return json.loads(value)
    return value


@pytest.mark.property("valid stack config is accepted and read back unchanged")
@given(valid_configs())
def test_valid_configs_parse(case: tuple[str, dict[str, Any]]) -> None:
    stack, raw = case
    cfg = parse_stack_config(stack, raw)
    assert cfg.stack == stack and cfg.region == raw[REGION_KEY]
    assert str(cfg.min_instances) == str(raw[NS + "minInstances"])
    assert cfg.min_instances <= cfg.max_instances
    assert cfg.tier == cfg.environment == _plain(raw, "environment")
    if cfg.tier == "prod":
        assert cfg.min_instances >= 2 and cfg.deployment_policy != "AllAtOnce"
        assert cfg.alarm_email and "*" not in cfg.cors_allowed_origins
    if NS + "corsAllowedOrigins" in raw:
        assert list(cfg.cors_allowed_origins) == _plain(raw, "corsAllowedOrigins")
    if NS + "tags" in raw:
        assert dict(cfg.tags) == _plain(raw, "tags")


@st.composite
def broken_configs(draw: st.DrawFn) -> tuple[str, dict[str, Any], set[str]]:
    stack, raw = draw(valid_configs())
    raw = dict(raw)
    bad = invalid_values(_plain(raw, "environment"))
    keys = draw(st.lists(st.sampled_from(sorted(bad)), min_size=1, max_size=3, unique=True))
    for key in keys:
        raw[key if ":" in key else NS + key] = draw(bad[key])
    if draw(st.booleans()):
        typo = draw(unknown_keys)
        raw[NS + typo] = 1
        keys.append(typo)
    return stack, raw, set(keys)


@pytest.mark.property("invalid stack config fails naming every broken key, before any resource")
@given(broken_configs())
def test_invalid_configs_name_each_broken_key(case: tuple[str, dict[str, Any], set[str]]) -> None:
    stack, raw, broken = case
    with pytest.raises(StackConfigError) as info:
        parse_stack_config(stack, raw)
    assert broken <= info.value.keys
    text = str(info.value)
    for key in broken:
        assert f"{key}: got " in text or f"{key}, " in text or f", {key}: got" in text


@pytest.mark.property("derived physical names satisfy AWS naming rules for any stack name")
@given(any_stack_name)
def test_names_valid_for_any_stack_name(stack: str) -> None:
    prefix = naming.resource_prefix(stack)
    for suffix in LOGICAL_SUFFIXES:
        physical = autoname(f"{prefix}-{suffix}")
        assert len(physical) <= 63
    assert naming.is_valid_s3_bucket_name(autoname(f"{prefix}-artifacts"))
    assert naming.is_valid_s3_bucket_name(autoname(f"{prefix}-media"))
    assert naming.is_valid_dynamodb_table_name(autoname(f"{prefix}-emails"))
    assert naming.is_valid_iam_role_name(autoname(f"{prefix}-eb-service"))
    assert naming.is_valid_eb_environment_name(naming.environment_name(stack))
    assert naming.is_valid_eb_application_name(naming.application_name(stack))
    assert naming.is_valid_ses_configuration_set_name(naming.configuration_set_name(stack))


@pytest.mark.property(
    "for any valid config the graph keeps its invariants: AWS-valid names, ownership tags on "
    "every taggable resource, no public access, complete outputs, sizing and protection as set"
)
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    case=valid_configs(),
)
def test_graph_invariants(case: tuple[str, dict[str, Any]], fake_bundle: FakeBundle) -> None:
    stack, raw = case
    cfg = parse_stack_config(stack, raw)
    graph = build_graph(stack, raw, fake_bundle)

    assert invalid_names(graph) == []
    assert untagged(graph, stack) == []
    assert public_access_problems(graph) == []
    assert missing_outputs(graph) == []
    assert [w for w in graph.engine_warnings if "deprecated" in w] == []
    assert graph.outputs["stack"] == stack and graph.outputs["region"] == cfg.region

    s = settings_map(graph)
    assert s[("aws:autoscaling:asg", "MinSize")] == str(cfg.min_instances)
    assert s[("aws:autoscaling:asg", "MaxSize")] == str(cfg.max_instances)
    assert s[("aws:elasticbeanstalk:command", "DeploymentPolicy")] == cfg.deployment_policy
    stateful = graph.of_type("aws:dynamodb/table:Table") + graph.of_type("aws:s3/bucket:Bucket")
    assert {r.options["protect"] for r in stateful} == {cfg.deletion_protection}
    subscriptions = graph.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert len(subscriptions) == (1 if cfg.alarm_email else 0)
    cors = graph.of_type("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration")
    assert len(cors) == (1 if cfg.cors_allowed_origins else 0)
