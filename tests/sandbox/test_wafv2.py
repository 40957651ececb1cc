"""The sandbox realises the staging WAF (web ACL + load-balancer association) on moto, and
refuses what AWS would refuse."""

from __future__ import annotations

import copy
from pathlib import Path

import boto3
import pytest

from common.contracts import SANDBOX_AWS_ENV
from sandbox.realise import HANDLERS
from sandbox.realise.context import RealiseContext
from sandbox.realise.wafv2 import WafValidationError
from tests.support.program_graph import build_graph, make_fake_bundle
from tests.support.stack_files import stack_file_config

ACL = "aws:wafv2/webAcl:WebAcl"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
ALB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/awseb-x/1"


@pytest.fixture(scope="module")
def staging_acl(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The WebAcl inputs exactly as the program declares them for the staging stack."""
    bundle = make_fake_bundle(Path(tmp_path_factory.mktemp("bundle")))
    graph = build_graph("staging", stack_file_config("staging"), bundle)
    return graph.one(ACL).inputs


def _ctx(endpoint: str) -> RealiseContext:
    return RealiseContext(
        "staging", "passport-photo-backend", "us-east-1", endpoint, SANDBOX_AWS_ENV
    )


def test_staging_waf_is_realised_and_associated(clean_moto: str, staging_acl: dict) -> None:
    ctx = _ctx(clean_moto)
    acl_id, acl = HANDLERS[ACL](ctx, "passport-staging-waf", copy.deepcopy(staging_acl))
    HANDLERS[ASSOCIATION](
        ctx, "passport-staging-waf-lb", {"resourceArn": ALB, "webAclArn": acl["arn"]}
    )
    waf = boto3.client("wafv2", region_name="us-east-1")
    found = waf.get_web_acl_for_resource(ResourceArn=ALB)["WebACL"]
    assert found["ARN"] == acl["arn"] and found["Id"] == acl_id
    (rule,) = found["Rules"]
    assert rule["Statement"]["RateBasedStatement"]["Limit"] == 1000
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    # A second `up` updates in place instead of failing on the duplicate name.
    again_id, _ = HANDLERS[ACL](ctx, "passport-staging-waf", copy.deepcopy(staging_acl))
    assert again_id == acl_id


@pytest.mark.parametrize(
    ("path", "value", "why"),
    [
        (("rules", 0, "statement", "rateBasedStatement", "limit"), 5, "limit 5"),
        (("rules", 0, "statement", "rateBasedStatement", "evaluationWindowSec"), 900, "900"),
        (("rules", 0, "action", "block", "customResponse", "customResponseBodyKey"), "x", "'x'"),
        (("scope",), "GLOBAL", "scope"),
    ],
)
def test_what_aws_refuses_fails_the_sandbox_too(
    clean_moto: str, staging_acl: dict, path: tuple, value: object, why: str
) -> None:
    inputs = copy.deepcopy(staging_acl)
    node = inputs
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(WafValidationError, match=why):
        HANDLERS[ACL](_ctx(clean_moto), "bad-waf", inputs)


def test_association_needs_a_load_balancer_arn(clean_moto: str, staging_acl: dict) -> None:
    ctx = _ctx(clean_moto)
    _, acl = HANDLERS[ACL](ctx, "passport-staging-waf", copy.deepcopy(staging_acl))
    with pytest.raises(WafValidationError, match="resourceArn"):
        HANDLERS[ASSOCIATION](ctx, "lb", {"resourceArn": "", "webAclArn": acl["arn"]})


IP_SET = "aws:wafv2/ipSet:IpSet"


@pytest.fixture(scope="module")
def prod_graph(tmp_path_factory: pytest.TempPathFactory):
    """Prod exempts its load generators: an IP set NOT-ed in the rate rule's scope-down."""
    bundle = make_fake_bundle(Path(tmp_path_factory.mktemp("bundle")))
    return build_graph("prod", stack_file_config("prod"), bundle)


def test_the_load_generator_ip_set_is_realised_and_referenced(clean_moto: str, prod_graph) -> None:
    ctx = _ctx(clean_moto)
    _, ip_set = HANDLERS[IP_SET](
        ctx, "load-generators", copy.deepcopy(prod_graph.one(IP_SET).inputs)
    )
    acl_inputs = copy.deepcopy(prod_graph.one(ACL).inputs)
    ref = acl_inputs["rules"][0]["statement"]["rateBasedStatement"]["scopeDownStatement"]
    ref["notStatement"]["statement"]["ipSetReferenceStatement"]["arn"] = ip_set["arn"]
    _, acl = HANDLERS[ACL](ctx, "passport-prod-waf", acl_inputs)
    waf = boto3.client("wafv2", region_name="us-east-1")
    (summary,) = waf.list_ip_sets(Scope="REGIONAL")["IPSets"]
    assert summary["ARN"] == ip_set["arn"]
    stored = waf.get_ip_set(Name=summary["Name"], Scope="REGIONAL", Id=summary["Id"])["IPSet"]
    assert stored["Addresses"] == ["127.0.0.1/32"]
    # A web ACL that references an IP set which does not exist fails as on AWS.
    ref["notStatement"]["statement"]["ipSetReferenceStatement"]["arn"] = ip_set["arn"] + "-gone"
    with pytest.raises(WafValidationError, match="WAFNonexistentItemException"):
        HANDLERS[ACL](ctx, "passport-prod-waf-2", acl_inputs)


@pytest.mark.parametrize(
    ("addresses", "why"),
    [
        (["127.0.0.1"], "CIDR notation"),
        (["2001:db8::/64"], "IPV4 CIDR"),
        (["300.1.1.1/32"], "IPV4"),
    ],
)
def test_ip_set_addresses_are_checked_like_aws(
    clean_moto: str, prod_graph, addresses: list[str], why: str
) -> None:
    inputs = {**copy.deepcopy(prod_graph.one(IP_SET).inputs), "addresses": addresses}
    with pytest.raises(WafValidationError, match=why):
        HANDLERS[IP_SET](_ctx(clean_moto), "bad-set", inputs)
