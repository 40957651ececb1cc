"""The sandbox as a pipeline engine: SandboxEngine plus what the pipeline expects of an engine.

Two things are added on top of `sandbox.engine.SandboxEngine`: its user-facing errors become
PipelineErrors (so the CLI prints one line, not a traceback), and `aws_env` names the stack's
moto endpoint and fake credentials, which the pipeline hands explicitly to its own AWS calls
(metrics, notifications, bundle fetches, verify). Nothing here writes `os.environ`: the check
stage runs a sandbox inside a `--engine pulumi` run, and the Automation API copies the process
environment into every `pulumi` CLI call.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from common.changes import ChangeSummary

from .errors import PipelineError, StackLockedError, UsageError

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent


class SandboxAdapter:
    name = "sandbox"

    def __init__(self, stack: str, *, state_root: Path | None = None, **engine_kwargs: Any) -> None:
        from sandbox.engine import SandboxEngine

        self.stack = stack
        self.state_root = Path(state_root) if state_root else ROOT / ".sandbox"
        self.engine = SandboxEngine(stack, state_root=self.state_root, **engine_kwargs)

    @property
    def state_dir(self) -> Path:
        """The stack's sandbox state folder (`down` deletes it)."""
        return self.state_root / self.stack

    @property
    def records_path(self) -> Path:
        """Deployment records, beside (not inside) the folder `down` deletes: they outlive it."""
        return self.state_root / ".records" / f"{self.stack}.json"

    def _call(self, fn: Callable[[], T]) -> T:
        from sandbox.errors import SandboxError, SandboxUsageError
        from sandbox.errors import StackLockedError as SandboxLocked

        try:
            return fn()
        except SandboxLocked as exc:  # the pipeline waits for the lock, bounded
            raise StackLockedError(str(exc)) from exc
        except SandboxUsageError as exc:
            raise UsageError(str(exc)) from exc
        except SandboxError as exc:
            raise PipelineError(str(exc)) from exc

    @property
    def aws_env(self) -> dict[str, str] | None:
        """Endpoint + fake credentials of this stack's moto (None before the first `up`)."""
        from verify.outputs import OutputsError, load_sandbox

        try:
            _, env = load_sandbox(self.stack, self.state_root)
        except OutputsError:
            return None
        return env

    def preview(self, bundle: Path | None = None) -> ChangeSummary:
        return self._call(lambda: self.engine.preview(bundle))

    def up(self, bundle: Path | None = None) -> dict[str, Any]:
        return self._call(lambda: self.engine.up(bundle))

    def refresh(self) -> None:
        self._call(self.engine.refresh)

    def outputs(self) -> dict[str, Any]:
        return self._call(self.engine.outputs)

    def history(self) -> list[dict[str, Any]]:
        return self._call(self.engine.history)

    def destroy(self, *, honour_protection: bool = False) -> None:
        """Tear the stack down; with `honour_protection` (what `automation destroy` asks, as
        `pulumi destroy` always does) resources the program marked `protect` refuse it."""
        self._call(lambda: self.engine.destroy(honour_protection=honour_protection))
