"""Real sandbox stacks for tests: deploy one (moto + the app under gunicorn), read it back,
and take down whatever a test module left running in its private state folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from common.contracts import SANDBOX_AWS_ENV
from common.paths import StackPaths
from sandbox.engine import SandboxEngine
from tests.support.stack_files import stack_file_config

#: The checks a photo-endpoint regression trips, without the slower performance wave.
QUICK_VERIFY = ["readiness", "health", "api", "ml"]


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


def deploy(stack: str, state_root: Path, **kwargs: Any) -> Deployed:
    """`up` one stack in `state_root` (engine options in `kwargs`); a failed `up` is undone."""
    engine = SandboxEngine(stack, state_root=state_root, **kwargs)
    try:
        outputs = engine.up()
    except BaseException:
        engine.destroy()
        raise
    return Deployed(engine, outputs, stack_file_config(stack))


def destroy_all(state_root: Path) -> None:
    """Take down every stack with sandbox state under `state_root` (processes included)."""
    if not state_root.is_dir():
        return
    for folder in sorted(state_root.iterdir()):
        if folder.is_dir() and StackPaths(state_root, folder.name).sandbox.exists():
            SandboxEngine(folder.name, state_root=state_root).destroy()
