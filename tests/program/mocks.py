"""Pulumi mocks for the program's unit tests: record every resource, fake what AWS would compute.

Physical names follow Pulumi's auto-naming (`<logical>-<7 hex>`, deterministic here) so tests
can check the names AWS would actually receive against AWS's naming rules.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

import pulumi

ACCOUNT = "123456789012"
SOLUTION_STACK = "64bit Amazon Linux 2023 v4.7.0 running Python 3.11"
SOLUTION_STACK_TOKEN = "aws:elasticbeanstalk/getSolutionStack:getSolutionStack"

# Type token -> the input property Pulumi auto-names when the program leaves it unset.
AUTONAMED = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:dynamodb/table:Table": "name",
    "aws:iam/role:Role": "name",
    "aws:iam/instanceProfile:InstanceProfile": "name",
    "aws:iam/rolePolicy:RolePolicy": "name",
    "aws:sns/topic:Topic": "name",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "name",
}


@dataclass
class Registered:
    typ: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)


def autoname(logical: str) -> str:
    return f"{logical}-{hashlib.sha256(logical.encode()).hexdigest()[:7]}"


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region
        self.resources: list[Registered] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()  # new_resource runs on several threads at once

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        name_prop = AUTONAMED.get(args.typ)
        if name_prop and not state.get(name_prop):
            state[name_prop] = autoname(args.name)
        resource_id = self._outputs(args.typ, args.name, state)
        with self._lock:
            self.resources.append(Registered(args.typ, args.name, dict(args.inputs), state))
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list]:
        with self._lock:
            self.calls.append((args.token, dict(args.args)))
        if args.token == SOLUTION_STACK_TOKEN:
            return {"id": self.region, "name": SOLUTION_STACK}, []
        raise NotImplementedError(f"unexpected invoke {args.token}")

    def _outputs(self, typ: str, logical: str, state: dict[str, Any]) -> str:
        """Fill in computed attributes the program reads; return the resource id."""
        region, account = self.region, ACCOUNT
        if typ == "aws:s3/bucket:Bucket":
            state["arn"] = f"arn:aws:s3:::{state['bucket']}"
            return state["bucket"]
        if typ == "aws:dynamodb/table:Table":
            state["arn"] = f"arn:aws:dynamodb:{region}:{account}:table/{state['name']}"
            return state["name"]
        if typ in ("aws:iam/role:Role", "aws:iam/instanceProfile:InstanceProfile"):
            kind = "role" if typ.endswith("Role") else "instance-profile"
            state["arn"] = f"arn:aws:iam::{account}:{kind}/{state['name']}"
            return state["name"]
        if typ == "aws:sns/topic:Topic":
            state["arn"] = f"arn:aws:sns:{region}:{account}:{state['name']}"
            return state["arn"]
        if typ == "aws:ses/emailIdentity:EmailIdentity":
            state["arn"] = f"arn:aws:ses:{region}:{account}:identity/{state['email']}"
            return state["email"]
        if typ == "aws:ses/configurationSet:ConfigurationSet":
            state["arn"] = f"arn:aws:ses:{region}:{account}:configuration-set/{state['name']}"
            return state["name"]
        if typ == "aws:elasticbeanstalk/environment:Environment":
            state["cname"] = f"{state['name']}.abcd1234.{region}.elasticbeanstalk.com"
            state["endpointUrl"] = f"awseb-e-abc-1234567890.{region}.elb.amazonaws.com"
            return f"e-{hashlib.sha256(logical.encode()).hexdigest()[:10]}"
        if typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
            state["arn"] = f"arn:aws:cloudwatch:{region}:{account}:alarm:{state['name']}"
            return state["name"]
        if typ == "aws:s3/bucketObjectv2:BucketObjectv2":
            return state["key"]
        return f"{logical}-id"
