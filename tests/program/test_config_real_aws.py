"""Stack config rules that only real AWS enforces (issue 21): refused before anything is touched,
naming the key and the allowed values."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import StackConfigError, parse_stack_config

NS = "passport-photo-backend:"


def raw(**keys: Any) -> dict[str, Any]:
    config = {
        "aws:region": "us-east-1",
        NS + "environment": "staging",
        NS + "allowInsecureHttp": True,
        NS + "senderEmail": "noreply@example.com",
        NS + "publicBaseUrl": "https://api.example.com",
    }
    config.update({NS + key: value for key, value in keys.items()})
    return config


def problems(**keys: Any) -> str:
    with pytest.raises(StackConfigError) as info:
        parse_stack_config("staging", raw(**keys))
    return "\n".join(str(i) for i in info.value.issues)


@pytest.mark.parametrize("days", [1096, 2192, 2557, 2922, 3288])
def test_log_retention_only_takes_what_eb_retention_in_days_accepts(days: int) -> None:
    """CloudWatch Logs takes these, EB's RetentionInDays option does not (the update fails)."""
    text = problems(logRetentionDays=days)
    assert f"logRetentionDays: got {days}" in text
    assert "1827, 3653" in text and "1096" not in text.split("allowed", 1)[1]


@pytest.mark.parametrize("days", [1, 731, 1827, 3653])
def test_log_retention_values_eb_accepts(days: int) -> None:
    assert parse_stack_config("staging", raw(logRetentionDays=days)).log_retention_days == days


PUBLIC = ["subnet-0a0a0a0a0a0a0a0a1", "subnet-0a0a0a0a0a0a0a0a2"]
PRIVATE = ["subnet-0b0b0b0b0b0b0b0b1", "subnet-0b0b0b0b0b0b0b0b2"]
VPC = "vpc-0123456789abcdef0"


def network(**keys: Any) -> dict[str, Any]:
    return {"vpcId": VPC, **keys}


@pytest.mark.parametrize(
    "keys",
    [
        # the documented public/private layout: ALB public, instances private behind a NAT
        network(subnets=PRIVATE, elbSubnets=PUBLIC),
        # everything in public subnets: the instances need public IPs
        network(subnets=PUBLIC, elbSubnets=PUBLIC, associatePublicIpAddress=True),
        # internal: ALB and instances private
        network(subnets=PRIVATE, elbSubnets=PRIVATE, elbScheme="internal"),
        {},  # the default VPC
    ],
    ids=["public-private", "all-public", "internal", "default-vpc"],
)
def test_the_documented_vpc_layouts_are_accepted(keys: dict[str, Any]) -> None:
    cfg = parse_stack_config("staging", raw(**keys))
    assert cfg.elb_subnets == tuple(keys.get("elbSubnets", ()))
    assert cfg.associate_public_ip_address is keys.get("associatePublicIpAddress", False)


@pytest.mark.parametrize(
    ("keys", "named", "allowed"),
    [
        # issue 21 item 2: the ALB in the instances' private subnets cannot be created
        (network(subnets=PRIVATE), "vpcId, elbSubnets", "elbSubnets: the load balancer's"),
        # instances in public subnets without public IPs cannot reach AWS
        (
            network(subnets=PUBLIC, elbSubnets=PUBLIC),
            "subnets, elbSubnets, associatePublicIpAddress",
            "associatePublicIpAddress: true",
        ),
        # a public IP in a private subnet
        (
            network(subnets=PRIVATE, elbSubnets=PUBLIC, associatePublicIpAddress=True),
            "subnets, elbSubnets, associatePublicIpAddress",
            "associatePublicIpAddress: false for instances in private subnets",
        ),
        (
            network(subnets=[PUBLIC[0], PRIVATE[0]], elbSubnets=PUBLIC),
            "subnets, elbSubnets",
            "all in the ALB's public subnets",
        ),
        (
            network(
                subnets=PRIVATE,
                elbSubnets=PRIVATE,
                elbScheme="internal",
                associatePublicIpAddress=True,
            ),
            "elbSubnets, associatePublicIpAddress, elbScheme",
            "behind an internal load balancer",
        ),
        ({"elbSubnets": PUBLIC}, "vpcId, elbSubnets", "vpcId with subnets and elbSubnets"),
        ({"elbScheme": "internal"}, "vpcId, elbScheme", "vpcId with subnets and elbSubnets"),
        ({"elbScheme": "private"}, "elbScheme", "one of public, internal"),
        (network(subnets=PRIVATE, elbSubnets=[PUBLIC[0]]), "elbSubnets", "at least 2"),
    ],
    ids=[
        "alb-in-private",
        "public-without-ip",
        "ip-in-private",
        "mixed",
        "internal-ip",
        "elb-no-vpc",
        "internal-no-vpc",
        "bad-scheme",
        "one-elb-subnet",
    ],
)
def test_network_combinations_eb_cannot_run_are_refused_naming_keys_and_allowed(
    keys: dict[str, Any], named: str, allowed: str
) -> None:
    text = problems(**keys)
    line = next((ln for ln in text.splitlines() if ln.startswith(named + ":")), None)
    assert line is not None, text
    assert allowed in line, line
