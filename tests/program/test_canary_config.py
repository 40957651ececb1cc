"""The `canary` stack config key (components/config/rules_canary.py) and the judge config built
from it (automation/canary/settings.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automation.canary.judge import DEFAULT_EFFECT_SIZES, JudgeConfig
from automation.canary.settings import judge_config
from components.config import CanaryConfig, StackConfigError, parse_stack_config
from components.config.rules_canary import (
    BAKE_MINUTES_RANGE,
    CANARY_METRICS,
    EVALUATION_MINUTES_RANGE,
    JUDGED_PERCENT_RANGE,
)
from tests.support.config_strategies import NS, valid_configs


def _prod(canary: Any, policy: str = "TrafficSplitting") -> dict[str, Any]:
    return {
        "aws:region": "us-east-1",
        NS + "environment": "prod",
        NS + "minInstances": 2,
        NS + "senderEmail": "noreply@example.com",
        NS + "alarmEmail": "oncall@example.com",
        NS + "publicBaseUrl": "https://api.example.com",
        NS + "allowInsecureHttp": True,
        NS + "deploymentPolicy": policy,
        NS + "canary": canary,
    }


def _problems(raw: dict[str, Any]) -> str:
    with pytest.raises(StackConfigError) as info:
        parse_stack_config("prod", raw)
    return str(info.value)


def test_defaults_when_the_key_is_absent() -> None:
    raw = _prod(None)
    del raw[NS + "canary"]
    canary = parse_stack_config("prod", raw).canary
    assert canary == CanaryConfig()
    assert not canary.enabled and canary.new_version_percent == 50
    assert judge_config(canary) == JudgeConfig.default()


def test_a_full_canary_map_is_read_as_written() -> None:
    canary = parse_stack_config(
        "prod",
        _prod(
            {
                "enabled": True,
                "newVersionPercent": 50,
                "evaluationMinutes": 15,
                "bakeMinutes": 30,
                "syntheticLoad": True,
                "effectSizes": {"latency_p99": 0.3, "error_rate_5xx": 0.25},
                "scores": {"pass": 90, "marginal": 60},
            }
        ),
    ).canary
    assert canary == CanaryConfig(
        True, 50, 15, 30, True, {"latency_p99": 0.3, "error_rate_5xx": 0.25}, 90.0, 60.0
    )
    config = judge_config(canary)
    sizes = {m.name: m.effect_size for m in config.metrics}
    assert sizes["latency_p99"] == 0.3 and sizes["error_rate_5xx"] == 0.25
    assert sizes["latency_p50"] == DEFAULT_EFFECT_SIZES["latency_p50"]
    assert (config.pass_score, config.marginal_score) == (90.0, 60.0)


def test_the_pulumi_cli_json_text_is_accepted() -> None:
    text = json.dumps({"enabled": "true", "evaluationMinutes": "20"})
    canary = parse_stack_config("prod", _prod(text)).canary
    assert canary.enabled and canary.evaluation_minutes == 20


@pytest.mark.parametrize(
    ("canary", "key", "allowed"),
    [
        ({"newVersionPercent": 0}, "canary.newVersionPercent", "an integer from 1 to 100"),
        ({"newVersionPercent": 101}, "canary.newVersionPercent", "an integer from 1 to 100"),
        ({"enabled": True, "newVersionPercent": 10}, "canary.newVersionPercent", "45 to 55"),
        ({"evaluationMinutes": 2}, "canary.evaluationMinutes", "an integer from 3 to 600"),
        ({"evaluationMinutes": 601}, "canary.evaluationMinutes", "an integer from 3 to 600"),
        ({"bakeMinutes": -1}, "canary.bakeMinutes", "an integer from 0 to 1440"),
        ({"enabled": "yes"}, "canary.enabled", "true or false"),
        ({"syntheticLoad": 1}, "canary.syntheticLoad", "true or false"),
        ({"effectSizes": {"latency_p42": 0.1}}, "canary.effectSizes.latency_p42", "latency_p99"),
        ({"effectSizes": {"latency_p99": 11}}, "canary.effectSizes.latency_p99", "0..10"),
        ({"effectSizes": {"error_rate_5xx": -0.1}}, "canary.effectSizes.error_rate_5xx", "0..100"),
        ({"effectSizes": [0.1]}, "canary.effectSizes", "a map of"),
        ({"scores": {"pass": 70, "marginal": 80}}, "canary.scores", "marginal <= pass"),
        ({"scores": {"pass": 101}}, "canary.scores", "<= 100"),
        ({"score": {"pass": 90}}, "canary.score", "one of enabled"),
        ([1, 2], "canary", "a map of enabled"),
    ],
)
def test_bad_values_name_the_field_and_what_is_allowed(canary: Any, key: str, allowed: str) -> None:
    text = _problems(_prod(canary))
    assert f"{key}: got " in text and allowed in text


def test_the_judge_needs_a_traffic_split() -> None:
    text = _problems(_prod({"enabled": True}, policy="Immutable"))
    assert "canary, deploymentPolicy: got canary.enabled=true, deploymentPolicy=Immutable" in text
    # Off, any policy is fine.
    assert not parse_stack_config("prod", _prod({"enabled": False}, "Immutable")).canary.enabled


def test_the_config_metrics_are_the_judges() -> None:
    assert tuple(DEFAULT_EFFECT_SIZES) == CANARY_METRICS


valid_canaries = st.fixed_dictionaries(
    {},
    optional={
        "enabled": st.booleans(),
        "newVersionPercent": st.integers(*JUDGED_PERCENT_RANGE),
        "evaluationMinutes": st.integers(*EVALUATION_MINUTES_RANGE),
        "bakeMinutes": st.integers(*BAKE_MINUTES_RANGE),
        "syntheticLoad": st.booleans(),
        "effectSizes": st.dictionaries(
            st.sampled_from(CANARY_METRICS), st.floats(0, 10, allow_nan=False), max_size=6
        ),
        "scores": st.tuples(st.floats(0, 100), st.floats(0, 100)).map(
            lambda t: {"pass": max(t), "marginal": min(t)}
        ),
    },
)


@pytest.mark.property("a valid canary map is accepted and read back as written")
@given(case=valid_configs(stack="prod"), canary=valid_canaries)
def test_valid_canary_maps_parse(case: tuple[str, dict[str, Any]], canary: dict) -> None:
    stack, raw = case
    raw = {**raw, NS + "deploymentPolicy": "TrafficSplitting", NS + "canary": canary}
    parsed = parse_stack_config(stack, raw).canary
    default = CanaryConfig()
    assert parsed.enabled == canary.get("enabled", default.enabled)
    assert parsed.new_version_percent == canary.get("newVersionPercent", 50)
    assert parsed.evaluation_minutes == canary.get("evaluationMinutes", default.evaluation_minutes)
    assert parsed.bake_minutes == canary.get("bakeMinutes", default.bake_minutes)
    assert dict(parsed.effect_sizes) == canary.get("effectSizes", {})
    config = judge_config(parsed)
    assert config.marginal_score <= config.pass_score
    assert {m.name for m in config.metrics} == set(CANARY_METRICS)


broken_fields = {
    "enabled": st.sampled_from(["yes", 1, None, [True]]),
    "newVersionPercent": st.one_of(st.integers(max_value=0), st.integers(min_value=101)),
    "evaluationMinutes": st.one_of(st.integers(max_value=2), st.integers(min_value=601)),
    "bakeMinutes": st.one_of(st.integers(max_value=-1), st.integers(min_value=1441)),
    "syntheticLoad": st.sampled_from(["on", 0, 2.5]),
    "effectSizes": st.sampled_from([[0.1], "x", {"latency_p99": -1}, {"nope": 0.1}]),
    "scores": st.sampled_from([{"pass": 50, "marginal": 60}, {"pass": "x"}, 7, {"fail": 1}]),
}


@pytest.mark.property("a broken canary field fails naming canary.<field>, before anything runs")
@given(
    case=valid_configs(stack="prod"),
    broken=st.lists(st.sampled_from(sorted(broken_fields)), min_size=1, max_size=3, unique=True),
    data=st.data(),
)
def test_broken_canary_fields_are_named(
    case: tuple[str, dict[str, Any]], broken: list[str], data: st.DataObject
) -> None:
    stack, raw = case
    canary = {field: data.draw(broken_fields[field]) for field in broken}
    raw = {**raw, NS + "deploymentPolicy": "TrafficSplitting", NS + "canary": canary}
    with pytest.raises(StackConfigError) as info:
        parse_stack_config(stack, raw)
    named = {key.split(".")[1] for key in info.value.keys if key.startswith("canary.")}
    assert named == set(broken)
