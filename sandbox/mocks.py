"""The Pulumi mocks behind the sandbox: realise every resource on moto, or plan a preview.

`RealisingMocks.new_resource` dispatches on the resource type token to a handler in
`sandbox/realise/` that creates-or-updates the resource for real on moto and returns what AWS
would compute (ids, ARNs, names). Both mocks record the graph they saw — per resource its
type, id, a digest of its inputs and its state — which `preview` compares with the graph of
the last successful `up`.

`new_resource` is called from several worker threads at once: handlers only share the
context's boto3 clients and the runner's locked state; the graph here is guarded by a lock.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor

from sandbox.errors import SandboxError
from sandbox.realise import HANDLERS
from sandbox.realise.context import Handler, RealiseContext
from sandbox.realise.invokes import INVOKES, Invoke


class UnknownResourceType(SandboxError):
    """The program declares a resource type the sandbox cannot realise."""


class RealiseError(SandboxError):
    """A handler failed to realise a resource (the AWS error is in the message)."""


def integral(value: Any) -> Any:
    """Mocks receive every number as a float (protobuf Struct); AWS APIs want ints for counts."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral(v) for v in value]
    return value


def resource_key(typ: str, name: str) -> str:
    return f"{typ}::{name}"


def _jsonable(value: Any) -> Any:
    """Inputs/state → JSON: assets become their path plus a digest of their bytes."""
    if isinstance(value, pulumi.FileAsset):
        path = Path(value.path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        return {"__asset": str(value.path), "sha256": digest}
    if isinstance(value, (pulumi.Asset, pulumi.Archive)):
        return {"__asset": repr(value)}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def inputs_digest(inputs: Mapping[str, Any]) -> str:
    """A stable digest of a resource's inputs (file assets by content, not path)."""

    def strip_paths(value: Any) -> Any:
        if isinstance(value, dict):
            if "__asset" in value and value.get("sha256"):
                return {"sha256": value["sha256"]}
            return {k: strip_paths(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strip_paths(v) for v in value]
        return value

    canonical = json.dumps(strip_paths(_jsonable(inputs)), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def component_of(parent_urn: str) -> str:
    """The type of the component a resource belongs to, from its parent's URN ("" for the stack).

    Real Pulumi URNs carry the parent chain in the type (`a:b:C$aws:s3/bucketV2:BucketV2`); a
    preview groups resources by the innermost component, the same on both engines.
    """
    parts = parent_urn.split("::")
    if len(parts) < 4:
        return ""
    parent_type = parts[2].split("$")[-1]
    return "" if parent_type == "pulumi:pulumi:Stack" else parent_type


class OptionsMonitor(MockMonitor):
    """The mock monitor, also telling the mocks what its MockResourceArgs leave out.

    Pulumi's MockResourceArgs carries no resource options and no parent, but what happens to
    a replaced or removed resource depends on ``retain_on_delete`` (with it, Pulumi drops the
    resource from its state and never calls the provider's delete: sandbox/realise/deletes.py),
    and a preview groups resources by the component (parent) they belong to.
    """

    def RegisterResource(self, request):  # type: ignore[no-untyped-def]  # noqa: N802
        note = getattr(self.mocks, "note_options", None)
        if note is not None:
            note(
                request.type,
                request.name,
                retain_on_delete=bool(request.retainOnDelete),
                protect=bool(request.protect),
                component=component_of(request.parent),
            )
        return super().RegisterResource(request)


class _GraphMocks(pulumi.runtime.Mocks):
    """Shared bookkeeping: the resource graph and invoke answers."""

    def __init__(self, region: str, invokes: Mapping[str, Invoke] | None = None) -> None:
        self.region = region
        self.invokes = dict(INVOKES if invokes is None else invokes)
        self.graph: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._retained: set[str] = set()
        self._protected: set[str] = set()
        self._components: dict[str, str] = {}

    def note_options(
        self,
        typ: str,
        name: str,
        *,
        retain_on_delete: bool,
        protect: bool = False,
        component: str = "",
    ) -> None:
        """Resource options and the parent the mocks' arguments lack (from OptionsMonitor)."""
        key = resource_key(typ, name)
        with self._lock:
            if retain_on_delete:
                self._retained.add(key)
            if protect:  # a destroy refuses it, as Pulumi's state `protect` does
                self._protected.add(key)
            if component:
                self._components[key] = component

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list | None]:
        invoke = self.invokes.get(args.token)
        if invoke is None:
            raise UnknownResourceType(
                f"the sandbox cannot answer the invoke '{args.token}': no handler in "
                "sandbox/realise/invokes.py"
            )
        return invoke(args.args, self.region), []

    def _record(self, args: pulumi.runtime.MockResourceArgs, res_id: str, state: dict) -> None:
        entry = {
            "type": args.typ,
            "name": args.name,
            "id": res_id,
            "inputs_digest": inputs_digest(args.inputs),
            # per property, so a preview can name what changes (like `pulumi preview --diff`)
            "input_digests": {k: inputs_digest({k: v}) for k, v in args.inputs.items()},
            "state": _jsonable(state),
        }
        with self._lock:
            key = resource_key(args.typ, args.name)
            entry["retain_on_delete"] = key in self._retained
            entry["protect"] = key in self._protected
            entry["component"] = self._components.get(key, "")
            self.graph[key] = entry

    @staticmethod
    def _passthrough(args: pulumi.runtime.MockResourceArgs) -> bool:
        """Components and providers have nothing to realise."""
        return not args.custom or args.typ.startswith("pulumi:providers:")


class RealisingMocks(_GraphMocks):
    """new_resource = create-or-update the resource on moto through its handler."""

    def __init__(
        self,
        ctx: RealiseContext,
        handlers: Mapping[str, Handler] | None = None,
        invokes: Mapping[str, Invoke] | None = None,
    ) -> None:
        super().__init__(ctx.region, invokes)
        self.ctx = ctx
        self.handlers = dict(HANDLERS if handlers is None else handlers)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if self._passthrough(args):
            res_id, state = args.name, dict(args.inputs)
        else:
            handler = self.handlers.get(args.typ)
            if handler is None:
                raise UnknownResourceType(
                    f"the sandbox cannot realise resource type '{args.typ}' (resource "
                    f"'{args.name}'): no handler in sandbox/realise/"
                )
            try:
                res_id, state = handler(self.ctx, args.name, integral(dict(args.inputs)))
            except SandboxError:
                raise
            except Exception as exc:
                raise RealiseError(f"{args.typ} '{args.name}': {exc}") from exc
        self._record(args, res_id, state)
        return res_id, state


class PlanningMocks(_GraphMocks):
    """new_resource = compare with the last deployed graph; touch nothing.

    Known resources answer with their recorded state (overlaid with the new inputs), as
    Pulumi's preview uses the old outputs of unchanged resources, so dependants see the same
    names and ARNs and are not reported as changed.
    """

    def __init__(self, region: str, deployed: Mapping[str, Mapping[str, Any]]) -> None:
        super().__init__(region)
        self.deployed = dict(deployed)
        self.handlers = HANDLERS
        self.ops: dict[str, str] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        key = resource_key(args.typ, args.name)
        if not self._passthrough(args) and args.typ not in self.handlers:
            raise UnknownResourceType(
                f"the sandbox cannot realise resource type '{args.typ}' (resource "
                f"'{args.name}'): no handler in sandbox/realise/"
            )
        old = self.deployed.get(key)
        digest = inputs_digest(args.inputs)
        if old is None:
            op = "create"
            res_id, state = f"{args.name}-preview", {"name": args.name, **args.inputs}
        else:
            op = "same" if old.get("inputs_digest") == digest else "update"
            recorded = {k: v for k, v in (old.get("state") or {}).items() if not _is_asset(v)}
            res_id, state = str(old.get("id")), {**recorded, **args.inputs}
        with self._lock:
            self.ops[key] = op
        self._record(args, res_id, state)
        return res_id, state


def _is_asset(value: Any) -> bool:
    return isinstance(value, dict) and "__asset" in value
