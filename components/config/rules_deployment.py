"""Rules of what is deployed and how: the environment, instance type and count, deployment
policy, EB platform, model vs instance memory, and resource tags."""

from __future__ import annotations

import re
from typing import Any

from components.capacity import instance_fits
from components.config.model import DEFAULT_SOLUTION_STACK, ENVIRONMENT_KEY
from components.config.schema import Context, Invalid, rule, show

ENVIRONMENTS = ("dev", "staging", "prod")
"""Rule sets (sizing, CORS, protection): chosen by the `environment` key, not by the stack name,
so any `Pulumi.<name>.yaml` (a `pr-123` review stack, `prod-eu`) is a valid stack."""
DEPLOYMENT_POLICIES = (
    "AllAtOnce",
    "Rolling",
    "RollingWithAdditionalBatch",
    "Immutable",
    "TrafficSplitting",
)
PROD_MIN_INSTANCES = 2
SOLUTION_STACK_RE = re.compile(r"^64bit Amazon Linux 2023 v\d+\.\d+\.\d+ running Python 3\.11$")
INSTANCE_TYPE_ALLOWED = "an EC2 instance type such as t3.small"
_INSTANCE_TYPE_RE = re.compile(
    r"^[a-z][a-z0-9-]*\d[a-z0-9-]*\.(\d*(nano|micro|small|medium|large|xlarge)|metal(-\d+xl)?)$"
)
RESERVED_TAG_KEYS = ("project", "stack", "managed-by")
# AWS allows 50 tags per resource; EB and CloudFormation add their own (elasticbeanstalk:*, aws:*).
MAX_EXTRA_TAGS = 40
TAGS_ALLOWED = (
    f"a map of at most {MAX_EXTRA_TAGS} string tags (keys 1-128 and values 0-256 of letters, "
    f"digits, spaces and _.:/=+-@; no 'aws:' prefix; not {', '.join(RESERVED_TAG_KEYS)})"
)
_TAG_KEY_RE = re.compile(r"^[\w .:/=+\-@]{1,128}$")
_TAG_VALUE_RE = re.compile(r"^[\w .:/=+\-@]{0,256}$")


def stack_tier(stack: str) -> str:
    """The rule set a stack's *name* suggests: 'prod', 'staging' or 'dev'.

    Not what decides the rules (the `environment` key does); used only to refuse a stack whose
    name says prod or staging but whose `environment` says otherwise, so a second production
    stack cannot slip past the prod checks by a missing or wrong key.
    """
    lowered = stack.lower()
    for tier, names in (("prod", ("prod", "production")), ("staging", ("staging", "stage"))):
        if lowered in names or any(lowered.startswith(f"{n}-") for n in names):
            return tier
    return "dev"


@rule(ENVIRONMENT_KEY)
def environment_matches_stack_name(ctx: Context) -> None:
    env, named = ctx.values[ENVIRONMENT_KEY], stack_tier(ctx.stack)
    if env is not None and named != "dev" and env != named:
        ctx.add(
            ENVIRONMENT_KEY,
            show(env),
            f"{named} for stack '{ctx.stack}' (its name says {named}; rename the stack to run "
            f"{env} rules)",
        )


def instance_type_syntax(value: str, ctx: Context) -> str:
    if not _INSTANCE_TYPE_RE.match(value):
        raise Invalid(INSTANCE_TYPE_ALLOWED)
    return value


@rule("minInstances", "maxInstances")
def instance_counts(ctx: Context) -> None:
    """minInstances <= maxInstances; prod needs two (one instance is a single point of failure)."""
    low, high = ctx.values["minInstances"], ctx.values["maxInstances"]
    if low is not None and high is not None and low > high:
        ctx.add(
            ("minInstances", "maxInstances"),
            f"minInstances={low}, maxInstances={high}",
            "minInstances <= maxInstances",
        )
    if ctx.tier == "prod" and low is not None and low < PROD_MIN_INSTANCES:
        ctx.add(
            "minInstances",
            show(low),
            f"at least {PROD_MIN_INSTANCES} in prod (one instance is a single point of failure)",
        )


def not_all_at_once_in_prod(policy: str, ctx: Context) -> str:
    if ctx.tier == "prod" and policy == "AllAtOnce":
        raise Invalid(
            "one of "
            + ", ".join(p for p in DEPLOYMENT_POLICIES if p != "AllAtOnce")
            + " in prod (AllAtOnce takes every instance down at once)"
        )
    return policy


def tested_platform(solution_stack: str, ctx: Context) -> str:
    if not SOLUTION_STACK_RE.match(solution_stack):
        raise Invalid(
            f"an Amazon Linux 2023 Python 3.11 EB platform such as {DEFAULT_SOLUTION_STACK!r} "
            "(the app is tested on Python 3.11)"
        )
    return solution_stack


@rule("instanceType", "backgroundRemovalModel")
def model_fits_instance(ctx: Context) -> None:
    """Model × workers must fit the instance's memory (components/capacity.py)."""
    instance_type, model = ctx.values["instanceType"], ctx.values["backgroundRemovalModel"]
    if instance_type and model:
        reason = instance_fits(instance_type, model)
        if reason:
            ctx.add(("instanceType", "backgroundRemovalModel"), show(instance_type), reason)


def valid_tags(tags: dict[str, Any], ctx: Context) -> dict[str, Any]:
    bad = [
        k
        for k, v in tags.items()
        if not _TAG_KEY_RE.match(k)
        or k.lower().startswith("aws:")
        or k in RESERVED_TAG_KEYS
        or not _TAG_VALUE_RE.match(v)
    ]
    if bad or len(tags) > MAX_EXTRA_TAGS:
        detail = f"bad keys {bad}" if bad else f"{len(tags)} tags"
        raise Invalid(f"{TAGS_ALLOWED} ({detail})")
    return tags


RULES = (environment_matches_stack_name, instance_counts, model_fits_instance)
