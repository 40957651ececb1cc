"""Fixtures for the sandbox tests: real stacks (moto + gunicorn) in temporary state roots.

Each `up` starts a moto server and a gunicorn with rembg, so a deployed stack is shared per
module and torn down (`destroy`) at the end; nothing touches the user's `.sandbox/`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from sandbox.engine import SandboxEngine
from sandbox.moto_server import FAKE_AWS_ENV

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "app"
MODEL = "u2netp"


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
            aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_AWS_ENV["AWS_SESSION_TOKEN"],
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
def bundle_factory(tmp_path_factory: pytest.TempPathFactory):
    """Build a real bundle from a copy of app/ with `edit(copy_dir)` applied."""
    from app.bundle import build_bundle

    def build(name: str, edit) -> Path:
        src = tmp_path_factory.mktemp(f"src-{name}")
        for item in ("application.py", "Procfile", "gunicorn.conf.py", "requirements.txt"):
            shutil.copy2(APP_DIR / item, src / item)
        for tree in ("passport_app", ".platform"):
            if (APP_DIR / tree).exists():
                shutil.copytree(
                    APP_DIR / tree, src / tree, ignore=shutil.ignore_patterns("__pycache__")
                )
        (src / "models").mkdir()
        shutil.copy2(APP_DIR / "models" / f"{MODEL}.onnx", src / "models" / f"{MODEL}.onnx")
        edit(src)
        return build_bundle(
            source_dir=src, out_dir=tmp_path_factory.mktemp(f"out-{name}"), model=MODEL
        ).path

    return build


@pytest.fixture(scope="module")
def state_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sandbox-state")
