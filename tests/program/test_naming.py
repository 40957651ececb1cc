"""Derived names and the AWS naming rules they are checked against."""

from __future__ import annotations

import pytest

from components import naming


@pytest.mark.parametrize(
    ("stack", "slug"),
    [("dev", "dev"), ("prod-eu", "prod-eu"), ("feature-123", "feature-123")],
)
def test_simple_stack_names_are_kept(stack: str, slug: str) -> None:
    assert naming.stack_slug(stack) == slug
    assert naming.environment_name(stack) == f"passport-{slug}"
    assert naming.application_name(stack) == f"passport-photo-backend-{slug}"


def test_changed_stack_names_get_a_distinguishing_hash() -> None:
    assert naming.stack_slug("Dev") != naming.stack_slug("dev")
    long_a = naming.stack_slug("feature-very-long-branch-name-a")
    long_b = naming.stack_slug("feature-very-long-branch-name-b")
    assert long_a != long_b and len(long_a) <= naming.MAX_SLUG
    slug = naming.stack_slug("my_st.v2")
    assert slug.startswith("my-st-v2-") and len(slug) == len("my-st-v2-") + 4
    assert naming.stack_slug("___").startswith("stack-")


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("passport-dev-media-abc1234", True),
        ("a.b-c", True),
        ("ab", False),
        ("a" * 64, False),
        ("Upper-case", False),
        ("-leading", False),
        ("trailing-", False),
        ("two..dots", False),
        ("192.168.1.1", False),
        ("xn--punycode", False),
        ("bucket-s3alias", False),
        ("under_score", False),
    ],
)
def test_s3_bucket_rules(name: str, valid: bool) -> None:
    assert naming.is_valid_s3_bucket_name(name) is valid


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("passport-dev", True),
        ("abc", False),
        ("a" * 41, False),
        ("a" * 40, True),
        ("env_1", False),
        ("-env", False),
    ],
)
def test_eb_environment_rules(name: str, valid: bool) -> None:
    assert naming.is_valid_eb_environment_name(name) is valid


@pytest.mark.parametrize(
    ("name", "valid"),
    [("t_1.a-b", True), ("ab", False), ("a" * 256, False), ("has space", False)],
)
def test_dynamodb_table_rules(name: str, valid: bool) -> None:
    assert naming.is_valid_dynamodb_table_name(name) is valid


@pytest.mark.parametrize(
    ("region", "partition"),
    [("us-east-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")],
)
def test_partition_for_managed_policy_arns(region: str, partition: str) -> None:
    assert naming.managed_policy_arn(region, "X") == f"arn:{partition}:iam::aws:policy/X"
