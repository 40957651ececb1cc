"""Hypothesis strategies for stack names and raw stack configs, valid and broken."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from components.capacity import instance_fits
from components.config import (
    DEPLOYMENT_POLICIES,
    ENVIRONMENTS,
    LOG_RETENTION_DAYS,
    MODELS,
    PROJECT,
    RESERVED_TAG_KEYS,
    stack_tier,
)
from tests.support.program_graph import as_pulumi_config

NS = f"{PROJECT}:"
REGIONS = (
    "us-east-1",
    "eu-west-1",
    "ap-southeast-2",
    "eu-central-2",
    "us-gov-west-1",
    "cn-north-1",
)
INSTANCE_TYPES = ("t3.small", "t3.medium", "t4g.small", "c7i.large", "m6i.2xlarge", "c6gn.metal")

# Pulumi stack names: letters, digits, '-', '_', '.', up to 100 characters.
any_stack_name = st.from_regex(r"[A-Za-z0-9_.-]{1,100}", fullmatch=True)
stack_names = st.one_of(
    st.sampled_from(["dev", "staging", "prod", "prod-eu", "staging-2", "feature-login"]),
    any_stack_name,
)


def _not_reserved(label: str) -> bool:
    """'--' in positions 3-4 is reserved for IDNA (`xn--`): not a valid plain DNS label."""
    return label[2:4] != "--"


emails = st.builds(
    lambda user, domain, tld: f"{user}@{domain}.{tld}",
    st.from_regex(r"[a-z][a-z0-9]{0,8}([.+-][a-z0-9]{1,5})?", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True).filter(_not_reserved),
    st.sampled_from(["com", "org", "io", "co.uk"]),
)
hosts = st.builds(
    lambda sub, domain: f"{sub}.{domain}.com",
    st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9-]{0,15}[a-z0-9]", fullmatch=True).filter(_not_reserved),
)
ports = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))


def origins_for(tier: str) -> st.SearchStrategy[str]:
    https = st.builds(lambda h, p: f"https://{h}{p}", hosts, ports)
    if tier == "prod":
        return https
    local = st.builds(
        lambda h, p: f"http://{h}{p}", st.sampled_from(["localhost", "127.0.0.1"]), ports
    )
    choices = [https, local] + ([st.just("*")] if tier == "dev" else [])
    return st.one_of(*choices)


tag_maps = st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True).filter(
        lambda k: k not in RESERVED_TAG_KEYS
    ),
    st.from_regex(r"[A-Za-z0-9 _.:/=+@-]{0,30}", fullmatch=True),
    max_size=5,
)


@st.composite
def valid_configs(draw: st.DrawFn, stack: str | None = None) -> tuple[str, dict[str, Any]]:
    """(stack, raw config) pairs that must validate; optional keys are sometimes left out."""
    stack = stack if stack is not None else draw(stack_names)
    # Any stack may run any rule set, except that a prod/staging-named one must say so.
    named = stack_tier(stack)
    tier = named if named != "dev" else draw(st.sampled_from(ENVIRONMENTS))
    prod = tier == "prod"
    low = draw(st.integers(2 if prod else 1, 20))
    high = draw(st.integers(low, 20))
    raw: dict[str, Any] = {
        "aws:region": draw(st.sampled_from(REGIONS)),
        NS + "minInstances": low,
        NS + "maxInstances": high,
        NS + "senderEmail": draw(emails),
        NS + "environment": tier,
    }
    if tier != "dev":
        raw[NS + "allowInsecureHttp"] = True  # no certificate in generated configs
        # staging/prod must name the public URL links are built from
        raw[NS + "publicBaseUrl"] = draw(
            st.sampled_from(["https://api.example.com", "https://x.io:8443"])
        )
    optional = {
        "instanceType": st.sampled_from(INSTANCE_TYPES),
        "deploymentPolicy": st.sampled_from(
            [p for p in DEPLOYMENT_POLICIES if not (prod and p == "AllAtOnce")]
        ),
        "alarmEmail": emails,
        "corsAllowedOrigins": st.lists(origins_for(tier), max_size=4, unique=True),
        "logRetentionDays": st.sampled_from(LOG_RETENTION_DAYS),
        "backgroundRemovalModel": st.sampled_from(MODELS),
        "maxUploadMb": st.integers(1, 50),
        "latencyBudgetMs": st.integers(100, 60_000),
        "photoRetentionDays": st.integers(1, 365),
        "deletionProtection": st.booleans(),
        "tags": tag_maps,
        "allowedHosts": st.lists(st.sampled_from(["a.example.com", ".example.org"]), max_size=2),
        "emailResendCooldownSeconds": st.integers(30, 3600),
        "emailDailyCap": st.integers(1, 20),
        "wafRateLimit": st.integers(100, 2_000_000_000),
        "analyticsRetentionDays": st.integers(1, 3650),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()) or (prod and key == "alarmEmail"):
            raw[NS + key] = draw(strategy)
    # The full U²-Net does not fit the default t3.small's memory (components/capacity.py).
    if raw.get(NS + "backgroundRemovalModel") == "u2net" and instance_fits(
        raw.get(NS + "instanceType", "t3.small"), "u2net"
    ):
        raw[NS + "instanceType"] = "c7i.large"
    if draw(st.booleans()):
        raw = as_pulumi_config(raw)  # as the Pulumi CLI passes it: strings and JSON
    return stack, raw


def invalid_values(tier: str) -> dict[str, st.SearchStrategy[Any]]:
    """For each key, values that break its rule in a stack of `tier`."""
    cors_bad = [
        ["https://x.example.com/"],
        ["ftp://x.example.com"],
        ["http://app.example.com"],
        "not-a-list",
        [1],
        ["https://a.example.com", "https://a.example.com"],
    ]
    if tier != "dev":
        cors_bad.append(["*"])
    return {
        "aws:region": st.sampled_from(["us-east", "US-EAST-1", "mars", "useast1", ""]),
        "instanceType": st.sampled_from(["t3", "T3.small", "t3.huge", "small", "t3.small.x"]),
        "minInstances": st.sampled_from([0, -1, 21, "two", 1.5, True]),
        "maxInstances": st.sampled_from([0, 21, 100, "many", False]),
        "deploymentPolicy": st.sampled_from(["allatonce", "BlueGreen", "rolling", 3]),
        "senderEmail": st.sampled_from(["noreply", "a@b", "@example.com", "a b@example.com", ""]),
        "alarmEmail": st.sampled_from(["ops", "ops@", "ops@localhost", "x@example.invalid"]),
        "corsAllowedOrigins": st.sampled_from(cors_bad),
        "logRetentionDays": st.sampled_from([0, 2, 8, 10, 366, 5000, "week"]),
        "backgroundRemovalModel": st.sampled_from(["u2net_human_seg", "isnet", "U2NETP", ""]),
        "maxUploadMb": st.sampled_from([0, 51, -5, "big"]),
        "latencyBudgetMs": st.sampled_from([99, 60_001, 0]),
        "photoRetentionDays": st.sampled_from([0, 366, -1]),
        "deletionProtection": st.sampled_from(["yes", 1, "maybe"]),
        "publicBaseUrl": st.sampled_from(
            ["api.example.com", "https://a.example.com/x", "ftp://a.b"]
        ),
        "allowedHosts": st.sampled_from([["Evil Host"], "x", [3]]),
        "emailResendCooldownSeconds": st.sampled_from([0, 29, 3601, "soon"]),
        "emailDailyCap": st.sampled_from([0, 21, "lots"]),
        "wafRateLimit": st.sampled_from([99, -1, "fast"]),
        "analyticsRetentionDays": st.sampled_from([0, 3651]),
        "tags": st.sampled_from(
            [
                {"aws:team": "x"},
                {"project": "other"},
                {"a": {"nested": 1}},
                "notamap",
                {"k": "v" * 300},
            ]
        ),
    }


unknown_keys = st.sampled_from(
    ["minInstance", "instancetype", "region", "corsOrigins", "logRetention"]
)
