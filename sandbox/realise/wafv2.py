"""WAFv2: the web ACL (rate-based rule) and its association with the load balancer, on moto.

moto stores web ACLs and associations but checks little, so the rules AWS enforces at
CreateWebACL / AssociateWebACL time that this stack could break are enforced here: scope,
rate limit and window bounds, aggregate key types, custom response codes and body references,
metric names, and that a REGIONAL ACL is associated with a regional resource ARN (an
application load balancer here). A broken WAF fails `sandbox up` the way it would fail AWS.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from common.contracts import ResourceType
from sandbox.realise.context import RealiseContext, pascal, tag_list

SCOPES = ("REGIONAL", "CLOUDFRONT")
RATE_LIMIT_RANGE = (10, 2_000_000_000)
EVALUATION_WINDOWS = (60, 120, 300, 600)
AGGREGATE_KEY_TYPES = ("IP", "FORWARDED_IP", "CUSTOM_KEYS", "CONSTANT")
CONTENT_TYPES = ("TEXT_PLAIN", "TEXT_HTML", "APPLICATION_JSON")
_METRIC_NAME = re.compile(r"^[\w#:.\-/]{1,255}$")
_NAME = re.compile(r"^[\w-]{1,128}$")
_REGIONAL_ARN = re.compile(
    r"^arn:aws:(elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer/app/"
    r"|apigateway:[a-z0-9-]+::/restapis/|cognito-idp:|appsync:|apprunner:)"
)
_PASCAL = {
    "cloudwatchMetricsEnabled": "CloudWatchMetricsEnabled",
    "ipSetReferenceStatement": "IPSetReferenceStatement",
    "arn": "ARN",
}


def _ip_set_refs(value: Any) -> list[str]:
    """Every IP set ARN a rule tree references (at any depth of and/or/not/scope-down)."""
    if isinstance(value, Mapping):
        ref = value.get("ipSetReferenceStatement")
        found = [str(ref["arn"])] if isinstance(ref, Mapping) and ref.get("arn") else []
        return found + [a for v in value.values() for a in _ip_set_refs(v)]
    if isinstance(value, list):
        return [a for v in value for a in _ip_set_refs(v)]
    return []


def _ints(value: Any) -> Any:
    """Pulumi hands every number over as a float; the WAF API wants integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


class WafValidationError(ValueError):
    """What AWS's WAFInvalidParameterException would say."""


def _check_rule(rule: Mapping[str, Any], bodies: set[str], problems: list[str]) -> None:
    label = f"rule {rule.get('name')!r}"
    rate = (rule.get("statement") or {}).get("rateBasedStatement")
    if rate:
        limit = int(rate.get("limit", 0))
        if not RATE_LIMIT_RANGE[0] <= limit <= RATE_LIMIT_RANGE[1]:
            problems.append(f"{label}: limit {limit} outside {RATE_LIMIT_RANGE}")
        window = int(rate.get("evaluationWindowSec") or 300)
        if window not in EVALUATION_WINDOWS:
            problems.append(f"{label}: evaluationWindowSec {window} not in {EVALUATION_WINDOWS}")
        if rate.get("aggregateKeyType") not in AGGREGATE_KEY_TYPES:
            problems.append(f"{label}: aggregateKeyType {rate.get('aggregateKeyType')!r}")
        if rate.get("aggregateKeyType") == "FORWARDED_IP" and not rate.get("forwardedIpConfig"):
            problems.append(f"{label}: FORWARDED_IP needs forwardedIpConfig")
    custom = ((rule.get("action") or {}).get("block") or {}).get("customResponse")
    if custom:
        if not 200 <= int(custom.get("responseCode", 0)) <= 599:
            problems.append(f"{label}: responseCode {custom.get('responseCode')} not 200..599")
        key = custom.get("customResponseBodyKey")
        if key and key not in bodies:
            problems.append(f"{label}: customResponseBodyKey {key!r} is not a defined body")
    metric = (rule.get("visibilityConfig") or {}).get("metricName", "")
    if not _METRIC_NAME.match(str(metric)):
        problems.append(f"{label}: metricName {metric!r}")


def validate_web_acl(inputs: Mapping[str, Any]) -> None:
    problems: list[str] = []
    if inputs.get("scope") not in SCOPES:
        problems.append(f"scope {inputs.get('scope')!r} not in {SCOPES}")
    bodies = {}
    for body in inputs.get("customResponseBodies") or []:
        if body.get("contentType") not in CONTENT_TYPES:
            problems.append(f"custom body {body.get('key')!r}: contentType")
        bodies[body["key"]] = body
    rules = inputs.get("rules") or []
    priorities = [r.get("priority") for r in rules]
    if len(priorities) != len(set(priorities)):
        problems.append("rule priorities must be unique")
    for rule in rules:
        _check_rule(rule, set(bodies), problems)
    metric = (inputs.get("visibilityConfig") or {}).get("metricName", "")
    if not _METRIC_NAME.match(str(metric)):
        problems.append(f"visibilityConfig.metricName {metric!r}")
    if problems:
        raise WafValidationError("WAFInvalidParameterException: " + "; ".join(problems))


def web_acl(ctx: RealiseContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    inputs = _ints(inputs)
    validate_web_acl(inputs)
    acl_name = ctx.physical_name(ResourceType.WAF_WEB_ACL, name, inputs, max_len=128)
    if not _NAME.match(acl_name):
        raise WafValidationError(f"WAFInvalidParameterException: name {acl_name!r}")
    waf = ctx.client("wafv2")
    scope = inputs["scope"]
    known = {s["ARN"] for s in waf.list_ip_sets(Scope=scope)["IPSets"]}
    missing = [arn for arn in _ip_set_refs(inputs.get("rules")) if arn not in known]
    if missing:  # AWS: WAFNonexistentItemException (an IP set of another scope counts too)
        raise WafValidationError(
            f"WAFNonexistentItemException: IP set(s) {', '.join(missing)} not found in {scope}"
        )
    existing = [a for a in waf.list_web_acls(Scope=scope)["WebACLs"] if a["Name"] == acl_name]
    request: dict[str, Any] = {
        "Name": acl_name,
        "Scope": scope,
        "DefaultAction": pascal(inputs["defaultAction"]),
        "Rules": pascal(inputs.get("rules") or [], _PASCAL),
        "VisibilityConfig": pascal(inputs["visibilityConfig"], _PASCAL),
        "CustomResponseBodies": {
            b["key"]: {"ContentType": b["contentType"], "Content": b["content"]}
            for b in inputs.get("customResponseBodies") or []
        },
        "Description": inputs.get("description") or "",
    }
    if existing:  # a second `up`: update in place like the provider does
        summary = existing[0]
        waf.update_web_acl(Id=summary["Id"], LockToken=summary["LockToken"], **request)
    else:
        if inputs.get("tags"):
            request["Tags"] = tag_list(inputs["tags"])
        summary = waf.create_web_acl(**request)["Summary"]
    return summary["Id"], {
        **inputs,
        "name": acl_name,
        "arn": summary["ARN"],
        "lockToken": summary.get("LockToken", ""),
        "capacity": len(inputs.get("rules") or []) * 2,
        "tagsAll": ctx.tags_all(inputs),
    }


def web_acl_association(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    resource_arn = str(inputs.get("resourceArn") or "")
    acl_arn = str(inputs["webAclArn"])
    if not _REGIONAL_ARN.match(resource_arn):
        raise WafValidationError(
            "WAFInvalidParameterException: resourceArn must be an application load balancer "
            f"(or another regional resource) ARN, got {resource_arn!r}"
        )
    if ":global/" in acl_arn:
        raise WafValidationError(
            "WAFInvalidParameterException: a CLOUDFRONT web ACL cannot "
            "be associated with a regional resource"
        )
    ctx.client("wafv2").associate_web_acl(WebACLArn=acl_arn, ResourceArn=resource_arn)
    return f"{acl_arn},{resource_arn}", dict(inputs)


IP_VERSIONS = ("IPV4", "IPV6")
MAX_IP_SET_ADDRESSES = 10_000


def ip_set(ctx: RealiseContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """CreateIPSet with AWS's checks: scope, IP version, and every address a CIDR of it."""
    problems = []
    if inputs.get("scope") not in SCOPES:
        problems.append(f"scope {inputs.get('scope')!r} not in {SCOPES}")
    version = inputs.get("ipAddressVersion")
    if version not in IP_VERSIONS:
        problems.append(f"ipAddressVersion {version!r} not in {IP_VERSIONS}")
    addresses = list(inputs.get("addresses") or [])
    if len(addresses) > MAX_IP_SET_ADDRESSES:
        problems.append(f"{len(addresses)} addresses (at most {MAX_IP_SET_ADDRESSES})")
    kind = ipaddress.IPv4Network if version == "IPV4" else ipaddress.IPv6Network
    for address in addresses:
        if "/" not in str(address):
            problems.append(f"address {address!r} is not in CIDR notation")
            continue
        try:
            kind(str(address))
        except ValueError:
            problems.append(f"address {address!r} is not a valid {version} CIDR")
    if problems:
        raise WafValidationError("WAFInvalidParameterException: " + "; ".join(problems))
    set_name = ctx.physical_name(ResourceType.WAF_IP_SET, name, inputs, max_len=128)
    waf = ctx.client("wafv2")
    scope = inputs["scope"]
    existing = [s for s in waf.list_ip_sets(Scope=scope)["IPSets"] if s["Name"] == set_name]
    if existing:
        summary = existing[0]
        waf.update_ip_set(
            Name=set_name,
            Scope=scope,
            Id=summary["Id"],
            Addresses=addresses,
            LockToken=summary["LockToken"],
        )
    else:
        request: dict[str, Any] = {
            "Name": set_name,
            "Scope": scope,
            "IPAddressVersion": version,
            "Addresses": addresses,
            "Description": inputs.get("description") or "",
        }
        if inputs.get("tags"):
            request["Tags"] = tag_list(inputs["tags"])
        summary = waf.create_ip_set(**request)["Summary"]
    return summary["Id"], {
        **inputs,
        "name": set_name,
        "arn": summary["ARN"],
        "lockToken": summary.get("LockToken", ""),
        "tagsAll": ctx.tags_all(inputs),
    }


HANDLERS = {
    ResourceType.WAF_IP_SET: ip_set,
    ResourceType.WAF_WEB_ACL: web_acl,
    ResourceType.WAF_WEB_ACL_ASSOCIATION: web_acl_association,
}
