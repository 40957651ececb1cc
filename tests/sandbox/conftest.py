"""Fixtures for the sandbox tests: real stacks (moto + gunicorn) in temporary state roots.

Each `up` starts a moto server and a gunicorn with rembg, so a deployed stack is shared per
module and torn down (`destroy`) at the end; nothing touches the user's `.sandbox/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from common.contracts import SANDBOX_AWS_ENV
from sandbox.app_variants import build_variant, cannot_start, new_version
from sandbox.engine import SandboxEngine

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Deployed:
    engine: SandboxEngine
    outputs: dict[str, Any]
    config: dict[str, Any]

    @property
    def endpoint(self) -> str:
        return self.engine.status()["aws_endpoint_url"]

    def client(self, service: str) -> Any:
        """A boto3 client on the stack's own moto (read-back, not the mocks' bookkeeping)."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.outputs["region"],
            aws_access_key_id=SANDBOX_AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=SANDBOX_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=SANDBOX_AWS_ENV["AWS_SESSION_TOKEN"],
        )

    def setting(self, key: str) -> Any:
        return self.config[f"passport-photo-backend:{key}"]


def stack_file(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def deploy(stack: str, state_root: Path, **kwargs: Any) -> Deployed:
    engine = SandboxEngine(stack, state_root=state_root, **kwargs)
    try:
        outputs = engine.up()
    except BaseException:
        engine.destroy()
        raise
    return Deployed(engine, outputs, stack_file(stack))


@pytest.fixture(scope="session")
def changed_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_variant(tmp_path_factory.mktemp("changed"), new_version)


@pytest.fixture(scope="session")
def broken_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_variant(tmp_path_factory.mktemp("broken"), cannot_start)


@pytest.fixture(scope="module")
def state_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sandbox-state")
