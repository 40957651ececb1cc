"""Pulumi mocks for the program's unit tests: record every resource, fake what AWS would compute.

Physical names follow Pulumi's auto-naming (`<logical>-<7 hex>`, deterministic here) so tests
can check the names AWS would actually receive against AWS's naming rules.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor

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
    "aws:wafv2/webAcl:WebAcl": "name",
    "aws:wafv2/ipSet:IpSet": "name",
}


@dataclass
class Registered:
    typ: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    """protect, retain_on_delete, parent URN, dependency URNs, as the engine would get them."""


def autoname(logical: str) -> str:
    return f"{logical}-{hashlib.sha256(logical.encode()).hexdigest()[:7]}"


class RecordingMonitor(MockMonitor):
    """MockMonitor that also keeps the resource options (the plain Mocks API never sees them)."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        options = {
            "protect": bool(request.protect),
            "retain_on_delete": bool(request.retainOnDelete),
            "parent": request.parent,
            "dependencies": list(request.dependencies),
        }
        with self.recording._lock:
            self.recording.options[(request.type, request.name)] = options
        return super().RegisterResource(request)


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region
        self.resources: list[Registered] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.options: dict[tuple[str, str], dict[str, Any]] = {}
        self.engine_warnings: list[str] = []
        self._lock = threading.Lock()  # new_resource runs on several threads at once

    def install(self, project: str, stack: str) -> None:
        """Make these mocks (and their recording monitor) the Pulumi runtime."""
        pulumi.runtime.set_mocks(
            self,
            project=project,
            stack=stack,
            preview=False,
            monitor=RecordingMonitor(self),
            logger=self._engine_logger(),
        )

    def _engine_logger(self) -> logging.Logger:
        """pulumi.log.warn (deprecated types and properties, ...) lands in engine_warnings."""
        warnings = self.engine_warnings

        class Collect(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                warnings.append(record.getMessage())

        logger = logging.Logger(f"pulumi-engine-{id(self)}", level=logging.WARNING)
        logger.addHandler(Collect(level=logging.WARNING))
        return logger

    def registered(self) -> list[Registered]:
        """Every resource with its options attached."""
        with self._lock:
            for resource in self.resources:
                resource.options = self.options.get((resource.typ, resource.name), {})
            return list(self.resources)

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
        if typ == "aws:sesv2/emailIdentity:EmailIdentity":
            identity = state["emailIdentity"]
            state["arn"] = f"arn:aws:ses:{region}:{account}:identity/{identity}"
            # Easy DKIM: three tokens (AWS computes them; any stable strings do here)
            tokens = [hashlib.sha256(f"{identity}/{i}".encode()).hexdigest()[:32] for i in range(3)]
            state["dkimSigningAttributes"] = {
                **(state.get("dkimSigningAttributes") or {}),
                "tokens": tokens,
                "status": "PENDING",
            }
            return identity
        if typ == "aws:route53/record:Record":
            return f"{state['zoneId']}_{state['name']}_{state['type']}"
        if typ == "aws:ses/emailIdentity:EmailIdentity":
            state["arn"] = f"arn:aws:ses:{region}:{account}:identity/{state['email']}"
            return state["email"]
        if typ == "aws:ses/configurationSet:ConfigurationSet":
            state["arn"] = f"arn:aws:ses:{region}:{account}:configuration-set/{state['name']}"
            return state["name"]
        if typ == "aws:elasticbeanstalk/environment:Environment":
            state["cname"] = f"{state['name']}.abcd1234.{region}.elasticbeanstalk.com"
            state["endpointUrl"] = f"awseb-e-abc-1234567890.{region}.elb.amazonaws.com"
            state["loadBalancers"] = [
                f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/app/awseb-abc/1234"
            ]
            return f"e-{hashlib.sha256(logical.encode()).hexdigest()[:10]}"
        if typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
            state["arn"] = f"arn:aws:cloudwatch:{region}:{account}:alarm:{state['name']}"
            return state["name"]
        if typ == "aws:wafv2/webAcl:WebAcl":
            state["arn"] = f"arn:aws:wafv2:{region}:{account}:regional/webacl/{state['name']}/id"
            return "waf-id"
        if typ == "aws:wafv2/ipSet:IpSet":
            state["arn"] = f"arn:aws:wafv2:{region}:{account}:regional/ipset/{state['name']}/id"
            return "ipset-id"
        if typ == "aws:s3/bucketObjectv2:BucketObjectv2":
            return state["key"]
        return f"{logical}-id"
