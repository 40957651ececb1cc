"""Answers to the provider functions (invokes) the program calls, computed without AWS.

They are pure on purpose: preview runs them too, before any moto server exists. The account
and ARN are moto's defaults, so ARNs built from them match what moto reports; the solution
stacks are moto's own list (the same names `list_available_solution_stacks` returns).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from sandbox.realise.context import ACCOUNT_ID

Invoke = Callable[[Mapping[str, Any], str], dict[str, Any]]


def caller_identity(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    arn = f"arn:aws:sts::{ACCOUNT_ID}:user/moto"
    user_id = "AKIAIOSFODNN7EXAMPLE"  # moto's documented example key id  # pragma: allowlist secret
    return {"accountId": ACCOUNT_ID, "arn": arn, "id": ACCOUNT_ID, "userId": user_id}


def region_info(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    name = args.get("region") or args.get("name") or region
    return {
        "id": name,
        "name": name,
        "region": name,
        "description": name,
        "endpoint": f"ec2.{name}.amazonaws.com",
    }


def partition(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    return {
        "id": "aws",
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "reverseDnsPrefix": "com.amazonaws",
    }


def solution_stack(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    """The first (newest) solution stack matching nameRegex, as the provider picks it."""
    # lazy import: moto.elasticbeanstalk costs 0.29 s (importtime) at start-up of every
    # `python -m sandbox` command; only a program's getSolutionStack lookup needs its list.
    from moto.elasticbeanstalk.responses import SOLUTION_STACK_DETAILS

    pattern = str(args.get("nameRegex", ".*"))
    names = [d["SolutionStackName"] for d in SOLUTION_STACK_DETAILS]
    matches = [n for n in names if re.search(pattern, n)]
    if not matches:
        raise LookupError(f"no Elastic Beanstalk solution stack matches {pattern!r}")
    if len(matches) > 1 and not args.get("mostRecent"):
        raise LookupError(
            f"{len(matches)} solution stacks match {pattern!r}; set most_recent=True or narrow it"
        )
    return {
        "id": region,
        "name": matches[0],
        "nameRegex": pattern,
        "mostRecent": bool(args.get("mostRecent")),
    }


def policy_document(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    """aws.iam.get_policy_document: statements → the JSON IAM document."""
    statements = []
    for s in args.get("statements") or []:
        out: dict[str, Any] = {}
        if s.get("sid"):
            out["Sid"] = s["sid"]
        out["Effect"] = s.get("effect", "Allow")
        for key, aws_key in (
            ("actions", "Action"),
            ("notActions", "NotAction"),
            ("resources", "Resource"),
            ("notResources", "NotResource"),
        ):
            if s.get(key):
                values = sorted(s[key])
                out[aws_key] = values[0] if len(values) == 1 else values
        for key, aws_key in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            if s.get(key):
                merged: dict[str, Any] = {}
                for p in s[key]:
                    ids = sorted(p["identifiers"])
                    merged[p["type"]] = ids[0] if len(ids) == 1 else ids
                out[aws_key] = "*" if merged == {"*": "*"} else merged
        if s.get("conditions"):
            conditions: dict[str, Any] = {}
            for c in s["conditions"]:
                values = c["values"]
                conditions.setdefault(c["test"], {})[c["variable"]] = (
                    values[0] if len(values) == 1 else values
                )
            out["Condition"] = conditions
        statements.append(out)
    document = {"Version": args.get("version", "2012-10-17"), "Statement": statements}
    text = json.dumps(document, indent=2)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return {"id": digest, "json": text, "minifiedJson": json.dumps(document, separators=(",", ":"))}


INVOKES: dict[str, Invoke] = {
    "aws:index/getCallerIdentity:getCallerIdentity": caller_identity,
    "aws:index/getRegion:getRegion": region_info,
    "aws:index/getPartition:getPartition": partition,
    "aws:elasticbeanstalk/getSolutionStack:getSolutionStack": solution_stack,
    "aws:iam/getPolicyDocument:getPolicyDocument": policy_document,
}
