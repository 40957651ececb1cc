"""Resource names derived from the stack, and the AWS naming rules they must satisfy.

Most resources are auto-named by Pulumi (`<logical name>-<7 hex>`), which keeps replacements
create-before-delete safe; only names other tools must know up front (EB application and
environment, SES configuration set) are explicit. The logical-name prefix is bounded so every
derived physical name stays within the tightest AWS limit involved (S3: 63 characters).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re

from components.config import PROJECT

SHORT_PROJECT = "passport"
MAX_SLUG = 15
AUTONAME_SUFFIX = 8
"""Pulumi auto-naming appends '-' and 7 random hex characters to the logical name."""


def stack_slug(stack: str) -> str:
    """A lowercase [a-z0-9-] form of the stack name, at most MAX_SLUG characters.

    Stack names that needed changing get a short hash of the original appended, so two
    different stacks (`Dev` and `dev`, or two long names with a common start) never share
    physical names.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", stack.lower()).strip("-") or "stack"
    if slug == stack and len(slug) <= MAX_SLUG:
        return slug
    digest = hashlib.sha256(stack.encode()).hexdigest()[:4]
    return f"{slug[: MAX_SLUG - 5].strip('-') or 's'}-{digest}"


def resource_prefix(stack: str) -> str:
    """Logical-name prefix for every resource of a stack, e.g. `passport-dev`."""
    return f"{SHORT_PROJECT}-{stack_slug(stack)}"


def application_name(stack: str) -> str:
    """EB application name: one application per stack keeps version histories separate."""
    return f"{PROJECT}-{stack_slug(stack)}"


def environment_name(stack: str) -> str:
    """EB environment name (4-40 characters, unique per account and region)."""
    return resource_prefix(stack)


def configuration_set_name(stack: str) -> str:
    return f"{resource_prefix(stack)}-mail"


def autonamed(logical_name: str, suffix: str = "abcdef0") -> str:
    """What Pulumi's auto-naming makes of a logical name (used to check the limits)."""
    return f"{logical_name}-{suffix}"


def aws_partition(region: str) -> str:
    """ARN partition for a region, so managed-policy ARNs are right in China and GovCloud."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def managed_policy_arn(region: str, path_and_name: str) -> str:
    return f"arn:{aws_partition(region)}:iam::aws:policy/{path_and_name}"


# --- AWS naming rules -------------------------------------------------------------------


def is_valid_s3_bucket_name(name: str) -> bool:
    """General purpose bucket naming rules (docs: 'Bucket naming rules')."""
    if not 3 <= len(name) <= 63:
        return False
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", name) or ".." in name:
        return False
    try:
        ipaddress.IPv4Address(name)
        return False
    except ValueError:
        pass
    bad_prefixes = ("xn--", "sthree-", "amzn-s3-demo-")
    bad_suffixes = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
    return not name.startswith(bad_prefixes) and not name.endswith(bad_suffixes)


def is_valid_eb_environment_name(name: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{2,38}[A-Za-z0-9]", name))


def is_valid_eb_application_name(name: str) -> bool:
    return 1 <= len(name) <= 100 and "/" not in name


def is_valid_dynamodb_table_name(name: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9_.-]{3,255}", name))


def is_valid_iam_role_name(name: str) -> bool:
    return bool(re.fullmatch(r"[\w+=,.@-]{1,64}", name))


def is_valid_sns_topic_name(name: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9_-]{1,256}", name))


def is_valid_ses_configuration_set_name(name: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name))
