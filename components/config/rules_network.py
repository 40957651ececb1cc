"""Rules of where the stack lives and what reaches it: region, HTTPS certificate, VPC and
subnets, the WAF's rate limit and the load generators exempt from it."""

from __future__ import annotations

import functools
import ipaddress
import re

from components.config.model import REGION_KEY
from components.config.schema import Context, Invalid, did_you_mean, rule, show

REGION_ALLOWED = "an AWS region name such as us-east-1"
_REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
CERTIFICATE_ALLOWED = (
    "an ACM certificate ARN in the stack's region (arn:aws:acm:<region>:<account>:...)"
)
VPC_ALLOWED = "a VPC id such as vpc-0123456789abcdef0"
SUBNETS_ALLOWED = "a list of at least 2 subnet ids (subnet-...) in different AZs of vpcId"
ELB_SCHEMES = ("public", "internal")
"""EB's aws:ec2:vpc ELBScheme values (internet-facing, or reachable only inside the VPC)."""
NETWORK_KEYS = ("vpcId", "subnets", "elbSubnets", "associatePublicIpAddress", "elbScheme")
WAF_RATE_LIMIT_RANGE = (100, 2_000_000_000)  # AWS's bounds are 10..2e9; below 100 is a typo
DEFAULT_WAF_RATE_LIMIT = 1000
"""Requests per client IP per 5 minutes before the WAF blocks it (staging/prod default)."""
MIN_EXEMPT_PREFIX = 24
"""An exemption names load-generator machines, not whole networks (a /8 would exempt anyone)."""
EXEMPT_ALLOWED = f"a list of IPv4 CIDRs of /{MIN_EXEMPT_PREFIX} or narrower (the load generators)"


@functools.cache
def known_regions() -> tuple[str, ...]:
    """Every region of every AWS partition botocore knows (its bundled endpoints data).

    Cached: reading botocore's endpoints.json took ~26 ms, most of each config parse.
    """
    import botocore.loaders

    data = botocore.loaders.create_loader().load_data("endpoints")
    return tuple(sorted(r for p in data["partitions"] for r in p["regions"]))


def region_syntax(region: str, ctx: Context) -> str:
    if not _REGION_RE.match(region):
        raise Invalid(REGION_ALLOWED)
    return region


def region_exists(region: str, ctx: Context) -> str:
    if region not in known_regions():
        raise Invalid(f"an existing AWS region{did_you_mean(region, known_regions())}")
    return region


def certificate_in_region(arn: str, ctx: Context) -> str:
    match = re.fullmatch(r"arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate/[\w-]+", arn)
    region = ctx.values[REGION_KEY]
    if not match or (region and match.group(1) != region):
        raise Invalid(CERTIFICATE_ALLOWED)
    return arn


@rule("certificateArn", "allowInsecureHttp")
def https_unless_knowingly_http(ctx: Context) -> None:
    """Staging and prod serve HTTPS, or say `allowInsecureHttp: true`."""
    if (
        ctx.tier != "dev"
        and "certificateArn" not in ctx.raw
        and ctx.values["allowInsecureHttp"] is False
    ):
        ctx.add(
            ("certificateArn", "allowInsecureHttp"),
            "neither",
            f"a certificateArn in {ctx.tier} (HTTPS), or allowInsecureHttp: true to serve plain "
            "HTTP knowingly",
        )


@rule("certificateArn", "publicBaseUrl")
def https_public_url_with_certificate(ctx: Context) -> None:
    """The app redirects HTTP to https://<publicBaseUrl's host> (FORCE_HTTPS)."""
    url = ctx.values["publicBaseUrl"]
    if ctx.values["certificateArn"] and url is not None and url.startswith("http://"):
        ctx.add(
            ("certificateArn", "publicBaseUrl"),
            show(url),
            "an https:// publicBaseUrl when certificateArn is set (HTTP is redirected to it)",
        )


def vpc_id_syntax(vpc: str, ctx: Context) -> str:
    if not re.fullmatch(r"vpc-[0-9a-f]{8,17}", vpc):
        raise Invalid(VPC_ALLOWED)
    return vpc


def subnet_ids(subnets: list[str], ctx: Context) -> list[str]:
    """At least two (the load balancer spans two AZs); an empty list means the default VPC."""
    if subnets and (
        len(subnets) < 2 or not all(re.fullmatch(r"subnet-[0-9a-f]{8,17}", s) for s in subnets)
    ):
        raise Invalid(SUBNETS_ALLOWED, value=[])
    return subnets


@rule("vpcId", "subnets")
def vpc_with_subnets(ctx: Context) -> None:
    if ("vpcId" in ctx.raw) != ("subnets" in ctx.raw):
        ctx.add(
            ("vpcId", "subnets"),
            f"vpcId={ctx.values['vpcId']}, subnets={ctx.values['subnets']}",
            "both, or neither (the environment then goes into the region's default VPC)",
        )


@rule(*NETWORK_KEYS)
def vpc_placement(ctx: Context) -> None:
    """The combinations EB's VPC scenarios document (aws:ec2:vpc), checked together.

    - elbSubnets, associatePublicIpAddress and an internal elbScheme place things in vpcId, so
      they need it; with vpcId the load balancer's subnets are named (elbSubnets), never taken
      to be the instances' (an internet-facing ALB cannot be created in private subnets).
    - A public IP only in public subnets: the subnets a public ALB uses are public, so instances
      in them need one (no NAT there: without it they cannot reach AWS), and instances in other
      subnets (private, behind a NAT: the documented public/private layout) must not have one.
      A mix of both kinds for the instances is refused. Behind an internal ALB nothing is known
      to be public, so no public IP.
    """
    raw, values = ctx.raw, ctx.values
    keys = NETWORK_KEYS
    if "vpcId" not in raw:
        placed = [k for k in ("elbSubnets", "associatePublicIpAddress") if k in raw]
        if values["elbScheme"] == "internal":
            placed.append("elbScheme")
        if placed:
            ctx.add(
                ("vpcId", *placed),
                ", ".join(f"{k}={show(values[k])}" for k in placed) + " without vpcId",
                "vpcId with subnets and elbSubnets (these place the environment in a VPC)",
            )
        return
    if "elbSubnets" not in raw:
        ctx.add(
            ("vpcId", "elbSubnets"),
            "vpcId without elbSubnets",
            "elbSubnets: the load balancer's subnets (public ones for elbScheme public; the "
            "same as subnets only when the instances share them)",
        )
        return
    instances, balancer = set(values["subnets"] or ()), set(values["elbSubnets"] or ())
    if not instances or not balancer:
        return  # a bad list is named by its own key
    public_ip = values["associatePublicIpAddress"]
    shape = f"subnets={sorted(instances)}, elbSubnets={sorted(balancer)}"
    if values["elbScheme"] == "internal":
        if public_ip:
            ctx.add(
                keys[2:],
                f"associatePublicIpAddress=true with elbScheme=internal ({shape})",
                "associatePublicIpAddress: false behind an internal load balancer",
            )
        return
    in_public = instances & balancer
    if in_public and in_public != instances:
        ctx.add(
            ("subnets", "elbSubnets"),
            f"{shape}: instances in both public and other subnets",
            "the instances all in the ALB's public subnets (with associatePublicIpAddress: "
            "true) or all in other (private) subnets",
        )
    elif in_public and not public_ip:
        ctx.add(
            ("subnets", "elbSubnets", "associatePublicIpAddress"),
            f"associatePublicIpAddress=false with the instances in the ALB's public subnets "
            f"({shape})",
            "associatePublicIpAddress: true (instances in a public subnet reach AWS only with a "
            "public IP), or private subnets (with a NAT) for the instances",
        )
    elif not in_public and public_ip:
        ctx.add(
            ("subnets", "elbSubnets", "associatePublicIpAddress"),
            f"associatePublicIpAddress=true with the instances outside the ALB's public "
            f"subnets ({shape})",
            "associatePublicIpAddress: false for instances in private subnets (they reach AWS "
            "through a NAT)",
        )


def waf_rate_limit(limit: int, ctx: Context) -> int:
    """0 turns the WAF off, in dev only."""
    low, high = WAF_RATE_LIMIT_RANGE
    if (limit == 0 and ctx.tier == "dev") or low <= limit <= high:
        return limit
    raise Invalid(
        f"an integer from {low} to {high} (requests per IP per 5 minutes)"
        + ("" if ctx.tier == "dev" else f"; required in {ctx.tier}")
    )


def narrow_ipv4_networks(cidrs: list[str], ctx: Context) -> tuple[str, ...]:
    """rateLimitExemptCidrs: where the `load` check runs from (a load test from one machine is
    one client: unexempted, it measures the limiter, not the service)."""
    networks = []
    for item in cidrs:
        try:
            network = ipaddress.IPv4Network(item)
        except ValueError:
            raise Invalid(EXEMPT_ALLOWED, got=show(item)) from None
        if network.prefixlen < MIN_EXEMPT_PREFIX:
            raise Invalid(EXEMPT_ALLOWED + " (too broad)", got=show(item))
        networks.append(str(network))
    return tuple(networks)


RULES = (
    https_unless_knowingly_http,
    https_public_url_with_certificate,
    vpc_with_subnets,
    vpc_placement,
)
