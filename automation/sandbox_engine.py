"""The sandbox as a pipeline engine: SandboxEngine plus what the pipeline expects of an engine.

Two things are added on top of `sandbox.engine.SandboxEngine`: its user-facing errors become
PipelineErrors (so the CLI prints one line, not a traceback), and `aws_env` names the stack's
moto endpoint and fake credentials, which the pipeline hands explicitly to its own AWS calls
(metrics, notifications, bundle fetches, verify). Nothing here writes `os.environ`: the check
stage runs a sandbox inside a `--engine pulumi` run, and the Automation API copies the process
environment into every `pulumi` CLI call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from common.changes import ChangeSummary
from common.drift import DriftReport
from common.jsonfile import read_json
from common.paths import DEFAULT_STATE_ROOT, StackPaths
from sandbox.engine import SandboxEngine
from sandbox.errors import SandboxError, SandboxUsageError
from sandbox.errors import StackLockedError as SandboxLocked
from verify.outputs import OutputsError, load_sandbox

from .errors import PipelineError, StackLockedError, UsageError

T = TypeVar("T")


class SandboxAdapter:
    """The Engine protocol over one sandbox stack (see automation.engine)."""

    name = "sandbox"

    def __init__(self, stack: str, *, state_root: Path | None = None, **engine_kwargs: Any) -> None:
        self.stack = stack
        self.paths = StackPaths(Path(state_root) if state_root else DEFAULT_STATE_ROOT, stack)
        self.engine = SandboxEngine(stack, state_root=self.paths.root, **engine_kwargs)

    @property
    def state_root(self) -> Path:
        """The folder holding every sandbox stack (`--state-root`; default .sandbox/)."""
        return self.paths.root

    @property
    def state_dir(self) -> Path:
        """The stack's sandbox state folder (`down` deletes it)."""
        return self.paths.dir

    @property
    def records_path(self) -> Path:
        """Deployment records, beside (not inside) the folder `down` deletes: they outlive it."""
        return self.paths.root / ".records" / f"{self.stack}.json"

    @property
    def config_overrides(self) -> Mapping[str, str]:
        """None: the sandbox deploys the stack file as it is (`make_engine` refuses overrides)."""
        return {}

    @property
    def cleaned(self) -> list[str]:
        """Orphans of a killed run this engine stopped (a stale lock, app processes)."""
        return list(self.engine.cleaned)

    @property
    def aws_env(self) -> dict[str, str] | None:
        """Endpoint + fake credentials of this stack's moto (None before the first `up`)."""
        try:
            _, env = load_sandbox(self.stack, self.paths.root)
        except OutputsError:
            return None
        return env

    def resources(self) -> dict[str, Any]:
        """The resource graph the last `up` realised (what the policy rules judge)."""
        state = read_json(self.paths.sandbox, default=None) or {}
        return dict(state.get("resources") or {})

    def running_processes(self) -> list[tuple[str, int]]:
        """(role, pid) of the stack's app, proxy and moto processes that still run."""
        status = self.engine.status()
        return [
            (role, status[role]["pid"])
            for role in ("app", "proxy", "moto")
            if status.get(role) and status[role]["alive"]
        ]

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except SandboxLocked as exc:  # the pipeline waits for the lock, bounded
            raise StackLockedError(str(exc)) from exc
        except SandboxUsageError as exc:
            raise UsageError(str(exc)) from exc
        except SandboxError as exc:
            raise PipelineError(str(exc)) from exc

    def preview(self, bundle: Path | None = None) -> ChangeSummary:
        return self._call(lambda: self.engine.preview(bundle))

    def up(self, bundle: Path | None = None) -> dict[str, Any]:
        return self._call(lambda: self.engine.up(bundle))

    def refresh(self) -> None:
        self._call(self.engine.refresh)

    def drift(self) -> DriftReport:
        return self._call(self.engine.drift)

    def secret_config(self, key: str) -> str:
        """The sandbox cannot decrypt Pulumi secrets (as `up` says): give it a plain value."""
        raise UsageError(
            f"Pulumi.{self.stack}.yaml holds {key} encrypted; the sandbox cannot decrypt Pulumi "
            "secrets, give it a plain value for local runs"
        )

    def outputs(self) -> dict[str, Any]:
        return self._call(self.engine.outputs)

    def history(self) -> list[dict[str, Any]]:
        return self._call(self.engine.history)

    def destroy(self, *, honour_protection: bool = False) -> None:
        """Tear the stack down; with `honour_protection` (what `automation destroy` asks, as
        `pulumi destroy` always does) resources the program marked `protect` refuse it."""
        self._call(lambda: self.engine.destroy(honour_protection=honour_protection))
