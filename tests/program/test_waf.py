"""WAFv2 (staging/prod): a per-IP rate rule on the environment's load balancer, with an alarm."""

from __future__ import annotations

import json

from components.waf import BLOCK_BODY_KEY, RATE_RULE
from tests.support.graph_checks import alarms
from tests.support.program_graph import Graph

ACL = "aws:wafv2/webAcl:WebAcl"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
IP_SET = "aws:wafv2/ipSet:IpSet"


def test_staging_and_prod_have_a_rate_based_rule_on_the_load_balancer(
    stack_graphs: dict[str, Graph],
) -> None:
    assert stack_graphs["dev"].of_type(ACL) == []  # dev: the app's own limits only
    for stack, limit in (("staging", 1000), ("prod", 2000)):
        graph = stack_graphs[stack]
        acl = graph.one(ACL)
        assert acl.inputs["scope"] == "REGIONAL"
        assert acl.inputs["defaultAction"] == {"allow": {}}
        (rule,) = acl.inputs["rules"]
        assert rule["name"] == RATE_RULE
        rate = dict(rule["statement"]["rateBasedStatement"])
        scope_down = rate.pop("scopeDownStatement", None)
        assert rate == {"aggregateKeyType": "IP", "limit": limit, "evaluationWindowSec": 300}
        if stack == "prod":  # the load generators (rateLimitExemptCidrs) are not counted
            ip_set = graph.one(IP_SET)
            assert ip_set.inputs["addresses"] == ["127.0.0.1/32"]
            assert ip_set.inputs["ipAddressVersion"] == "IPV4"
            negated = scope_down["notStatement"]["statement"]["ipSetReferenceStatement"]
            assert negated == {"arn": ip_set.state["arn"]}
        else:
            assert scope_down is None and graph.of_type(IP_SET) == []
        custom = rule["action"]["block"]["customResponse"]
        assert custom["responseCode"] == 429
        assert custom["responseHeaders"] == [{"name": "Retry-After", "value": "300"}]
        (body,) = acl.inputs["customResponseBodies"]
        assert body["key"] == custom["customResponseBodyKey"] == BLOCK_BODY_KEY
        assert json.loads(body["content"])["error"]["code"] == "rate_limited"
        env = graph.one("aws:elasticbeanstalk/environment:Environment")
        association = graph.one(ASSOCIATION).inputs
        assert association["resourceArn"] == env.state["loadBalancers"][0]
        assert association["webAclArn"] == acl.state["arn"]
        alarm = alarms(graph)["rate-limited"]
        assert (alarm["namespace"], alarm["metricName"]) == ("AWS/WAFV2", "BlockedRequests")
        assert alarm["dimensions"] == {
            "WebACL": acl.state["name"],
            "Rule": rule["visibilityConfig"]["metricName"],
            "Region": "us-east-1",
        }
