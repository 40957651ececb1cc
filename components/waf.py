"""WAFv2 in front of the environment's load balancer: a fleet-wide per-IP rate limit.

The app's own per-client limits (Flask-Limiter) count per gunicorn worker; this rule counts
across the whole fleet at the edge, before a request costs an instance anything. Blocked
requests get our JSON error shape with 429 and Retry-After, like the app's own limits, and
the rule's CloudWatch metric (AWS/WAFV2 BlockedRequests) drives an alarm (monitoring.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

RATE_RULE = "per-ip-rate-limit"
EVALUATION_WINDOW_SECONDS = 300
BLOCK_BODY_KEY = "rate-limited"
BLOCK_BODY = json.dumps(
    {
        "error": {
            "code": "rate_limited",
            "message": "too many requests from this client; slow down and retry later",
        }
    }
)


@dataclass
class WafArgs:
    load_balancer_arn: pulumi.Input[str]
    rate_limit: int
    """Requests per client IP per 5 minutes before the IP is blocked (until it slows down)."""
    tags: Mapping[str, str]
    exempt_cidrs: tuple[str, ...] = ()
    """Trusted load generators the rate rule does not count (an IP set, NOT-ed in scope-down)."""


class Waf(pulumi.ComponentResource):
    web_acl: aws.wafv2.WebAcl
    exempt: aws.wafv2.IpSet | None
    association: aws.wafv2.WebAclAssociation
    metric_name: str

    def __init__(
        self, name: str, args: WafArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("passport:waf:Waf", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.metric_name = f"{name}-{RATE_RULE}"
        self.exempt = None
        scope_down = None
        if args.exempt_cidrs:
            self.exempt = aws.wafv2.IpSet(
                f"{name}-load-generators",
                description="Trusted load generators: not counted by the per-IP rate rule",
                scope="REGIONAL",
                ip_address_version="IPV4",
                addresses=list(args.exempt_cidrs),
                tags=dict(args.tags),
                opts=child,
            )
            scope_down = aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementArgs(
                not_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementNotStatementArgs(
                    statement=aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementArgs(
                        ip_set_reference_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementIpSetReferenceStatementArgs(
                            arn=self.exempt.arn
                        )
                    )
                )
            )
        self.web_acl = aws.wafv2.WebAcl(
            f"{name}-waf",
            description="Passport Photo API: per-IP rate limit in front of the load balancer",
            scope="REGIONAL",
            default_action=aws.wafv2.WebAclDefaultActionArgs(
                allow=aws.wafv2.WebAclDefaultActionAllowArgs()
            ),
            custom_response_bodies=[
                aws.wafv2.WebAclCustomResponseBodyArgs(
                    key=BLOCK_BODY_KEY, content=BLOCK_BODY, content_type="APPLICATION_JSON"
                )
            ],
            rules=[
                aws.wafv2.WebAclRuleArgs(
                    name=RATE_RULE,
                    priority=1,
                    action=aws.wafv2.WebAclRuleActionArgs(
                        block=aws.wafv2.WebAclRuleActionBlockArgs(
                            custom_response=aws.wafv2.WebAclRuleActionBlockCustomResponseArgs(
                                response_code=429,
                                custom_response_body_key=BLOCK_BODY_KEY,
                                response_headers=[
                                    aws.wafv2.WebAclRuleActionBlockCustomResponseResponseHeaderArgs(
                                        name="Retry-After", value=str(EVALUATION_WINDOW_SECONDS)
                                    )
                                ],
                            )
                        )
                    ),
                    statement=aws.wafv2.WebAclRuleStatementArgs(
                        rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                            # The ALB sees the client's own address: no header to trust.
                            aggregate_key_type="IP",
                            limit=args.rate_limit,
                            evaluation_window_sec=EVALUATION_WINDOW_SECONDS,
                            scope_down_statement=scope_down,
                        )
                    ),
                    visibility_config=aws.wafv2.WebAclRuleVisibilityConfigArgs(
                        cloudwatch_metrics_enabled=True,
                        metric_name=self.metric_name,
                        sampled_requests_enabled=True,
                    ),
                )
            ],
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True,
                metric_name=f"{name}-waf",
                sampled_requests_enabled=True,
            ),
            tags=dict(args.tags),
            opts=child,
        )
        self.association = aws.wafv2.WebAclAssociation(
            f"{name}-waf-lb",
            resource_arn=args.load_balancer_arn,
            web_acl_arn=self.web_acl.arn,
            opts=child,
        )
        self.register_outputs({"web_acl_arn": self.web_acl.arn})
