"""Run the program (or one component) under RecordingMocks and expose what it declared."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from app.bundle import bundle_label
from components.backend import BackendArgs, PassportPhotoBackend
from components.config import PROJECT, load_stack_config
from components.naming import resource_prefix
from tests.support.recording_mocks import RecordingMocks, Registered


@dataclass
class FakeBundle:
    path: str
    version_label: str


def make_fake_bundle(directory: Path, extra: bytes = b"") -> FakeBundle:
    """A tiny but real zip; its label uses the contract's formula (app.bundle.bundle_label)."""
    path = directory / "bundle.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("Procfile", "web: gunicorn application:application\n")
        archive.writestr("application.py", b"application = None\n" + extra)
    return FakeBundle(str(path), bundle_label(path))


def as_pulumi_config(config: Mapping[str, Any]) -> dict[str, str]:
    """What the Pulumi CLI hands a program: every value a string, structured ones as JSON."""

    def encode(value: Any) -> str:
        if isinstance(value, str):
            return value
        return json.dumps(value)

    return {key: encode(value) for key, value in config.items()}


@dataclass
class Graph:
    resources: list[Registered]
    outputs: dict[str, Any]
    calls: list[tuple[str, dict[str, Any]]]
    engine_warnings: list[str]

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str, suffix: str = "") -> Registered:
        found = [r for r in self.of_type(typ) if r.name.endswith(suffix)]
        assert len(found) == 1, f"expected one {typ} named *{suffix}, got {[r.name for r in found]}"
        return found[0]

    @property
    def custom(self) -> list[Registered]:
        return [r for r in self.resources if not r.typ.startswith("passport:")]


def run_mocked(
    stack: str,
    config: Mapping[str, Any],
    program: Callable[[], Any],
    region: str = "us-east-1",
    mocks: RecordingMocks | None = None,
) -> tuple[RecordingMocks, Any]:
    """Run `program` under fresh mocks with `config` as the stack's Pulumi config.

    Returns the mocks and whatever the program's returned Output resolved to. Pass `mocks` to
    keep hold of them when the program is expected to raise.
    """
    mocks = mocks if mocks is not None else RecordingMocks(region=region)
    mocks.install(PROJECT, stack)
    pulumi.runtime.set_all_config(as_pulumi_config(config))
    box: dict[str, Any] = {}

    @pulumi.runtime.test
    def run() -> Any:
        result = program()
        return pulumi.Output.from_input(result).apply(lambda value: box.update(value=value))

    run()
    return mocks, box.get("value")


def build_graph(stack: str, config: Mapping[str, Any], bundle: FakeBundle) -> Graph:
    """The whole backend for one stack config, with its resolved stack outputs."""

    def program() -> Any:
        cfg = load_stack_config()
        backend = PassportPhotoBackend(
            resource_prefix(cfg.stack), BackendArgs(cfg, bundle.path, bundle.version_label)
        )
        return pulumi.Output.all(**backend.stack_outputs())

    region = str(config.get("aws:region", "us-east-1"))
    mocks, outputs = run_mocked(stack, config, program, region=region)
    return Graph(mocks.registered(), outputs or {}, list(mocks.calls), mocks.engine_warnings)
