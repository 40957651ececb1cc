"""PulumiEngine: our engine interface over `pulumi.automation`, for real AWS.

Thin on purpose: the pipeline owns retries, verification and rollback; this class only maps our
verbs onto the Automation API, keeps a state backup before every `up`, and translates the CLI's
failures into `automation.errors` types.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .changes import ChangeSummary
from .errors import PipelineError, translate_pulumi_error

ROOT = Path(__file__).resolve().parent.parent
BUNDLE_ENV = "PASSPORT_APP_BUNDLE"


class PulumiEngine:
    """Drives one stack of this project through the Pulumi CLI (Automation API, local workspace)."""

    name = "pulumi"

    def __init__(
        self,
        stack: str,
        *,
        project_dir: Path = ROOT,
        config_overrides: Mapping[str, str] | None = None,
        secret_keys: frozenset[str] = frozenset(),
        policy_packs: list[str] | None = None,
        backup_dir: Path | None = None,
        on_output: Callable[[str], Any] = print,
        stack_factory: Callable[..., Any] | None = None,
    ) -> None:
        self.stack = stack
        self.project_dir = project_dir
        self.config_overrides = dict(config_overrides or {})
        self.secret_keys = secret_keys
        self.policy_packs = policy_packs
        self.backup_dir = backup_dir or project_dir / "build" / "state-backups" / stack
        self.on_output = on_output
        self._stack_factory = stack_factory

    # -- plumbing ---------------------------------------------------------------------------

    def _select(self, bundle: Path | None = None) -> Any:
        """create_or_select the stack in the project dir, with our env and config applied."""
        from pulumi import automation as auto

        env = {BUNDLE_ENV: str(bundle)} if bundle else {}
        try:
            if self._stack_factory is not None:
                stack = self._stack_factory(self.stack, str(self.project_dir), env)
            else:
                if shutil.which("pulumi") is None:
                    raise FileNotFoundError("pulumi")
                stack = auto.create_or_select_stack(
                    stack_name=self.stack,
                    work_dir=str(self.project_dir),
                    opts=auto.LocalWorkspaceOptions(work_dir=str(self.project_dir), env_vars=env),
                )
            if self.config_overrides:
                stack.set_all_config(
                    {
                        key: auto.ConfigValue(value=str(value), secret=key in self.secret_keys)
                        for key, value in self.config_overrides.items()
                    }
                )
        except Exception as exc:  # noqa: BLE001 - translated for the user
            raise translate_pulumi_error(exc, self.stack) from exc
        return stack

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except PipelineError:
            raise
        except Exception as exc:  # noqa: BLE001 - translated for the user
            raise translate_pulumi_error(exc, self.stack) from exc

    # -- the engine interface ---------------------------------------------------------------

    def preview(self, bundle: Path | None = None) -> ChangeSummary:
        stack = self._select(bundle)
        summary = ChangeSummary(self.stack)

        def on_event(event: Any) -> None:
            pre = getattr(event, "resource_pre_event", None)
            if pre is None or pre.metadata is None:
                return
            if pre.metadata.type.startswith("pulumi:"):
                return  # the stack and provider pseudo-resources are not changes a reviewer reads
            meta = pre.metadata
            urn = str(getattr(meta, "urn", "") or "")
            qualified = urn.split("::")[2] if urn.count("::") >= 3 else ""
            summary.add(
                meta.type,
                meta.op,
                name=urn.rsplit("::", 1)[-1] or meta.type,
                diffs=list(getattr(meta, "diffs", None) or []),
                component=qualified.split("$")[-2] if "$" in qualified else "",
            )

        self._call(
            "preview",
            lambda: stack.preview(
                on_output=self.on_output, on_event=on_event, policy_packs=self.policy_packs
            ),
        )
        return summary

    def up(self, bundle: Path | None = None) -> dict[str, Any]:
        stack = self._select(bundle)
        self.backup(stack)
        result = self._call(
            "up", lambda: stack.up(on_output=self.on_output, policy_packs=self.policy_packs)
        )
        return _plain_outputs(result.outputs)

    def refresh(self) -> None:
        stack = self._select()
        self._call("refresh", lambda: stack.refresh(on_output=self.on_output))

    def outputs(self) -> dict[str, Any]:
        stack = self._select()
        return _plain_outputs(self._call("outputs", stack.outputs))

    def history(self) -> list[dict[str, Any]]:
        stack = self._select()
        entries = self._call("history", lambda: stack.history(page_size=50, show_secrets=False))
        return [
            {
                "version": entry.version,
                "kind": entry.kind,
                "result": entry.result,
                "message": entry.message,
                "start_time": entry.start_time.isoformat() if entry.start_time else None,
                "end_time": entry.end_time.isoformat() if entry.end_time else None,
                "resource_changes": dict(entry.resource_changes or {}),
            }
            for entry in entries
        ]

    def backup(self, stack: Any | None = None) -> Path:
        """Export the stack's state to a timestamped file before we change it."""
        stack = stack or self._select()
        deployment = self._call("export_stack", stack.export_stack)
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        path = self.backup_dir / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
        path.write_text(
            json.dumps({"version": deployment.version, "deployment": deployment.deployment}),
            encoding="utf-8",
        )
        return path

    def destroy(self) -> None:
        stack = self._select()
        self._call("destroy", lambda: stack.destroy(on_output=self.on_output))


def _plain_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """OutputValue → plain values; secrets stay masked so no report can leak them."""
    plain: dict[str, Any] = {}
    for key, value in outputs.items():
        secret = getattr(value, "secret", False)
        plain[key] = "[secret]" if secret else getattr(value, "value", value)
    return plain
