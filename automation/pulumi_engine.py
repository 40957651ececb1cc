"""PulumiEngine: our engine interface over `pulumi.automation`, for real AWS.

Thin on purpose: the pipeline owns retries, verification and rollback; this class only maps our
verbs onto the Automation API, keeps a state backup before every `up`, and translates the CLI's
failures into `automation.errors` types.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from app.bundle import bundle_label
from common.changes import ChangeSummary
from common.contracts import (
    BUNDLE_ENV,
    LIVE_PLATFORM_ENV,
    ResourceType,
    managed_version_labels,
    version_exists_env,
)
from common.drift import DELETED, Drift, DriftReport
from common.jsonfile import write_json_atomic
from common.paths import ROOT
from components.config import PROJECT
from components.naming import application_name

from .eb_live import eb_client, live_platform
from .errors import PipelineError, translate_pulumi_error
from .runconfig import RunConfig

VERSION_TYPE = ResourceType.EB_APPLICATION_VERSION


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
        on_output: Callable[[str], Any] | None = None,
        stack_factory: Callable[..., Any] | None = None,
        version_lookup: Callable[[Path], bool] | None = None,
        platform_lookup: Callable[[], str | None] | None = None,
        secrets_provider: str | None = None,
        run_config: RunConfig | None = None,
    ) -> None:
        """`run_config` is the run's parsed config (the wiring shares one per run); without it
        the engine reads the stack file in `project_dir` with `config_overrides` on top."""
        self.stack = stack
        self.project_dir = project_dir
        self.run_config = run_config or RunConfig(stack, config_overrides, project_dir=project_dir)
        self.secret_keys = secret_keys
        self.policy_packs = policy_packs
        self.backup_dir = backup_dir or project_dir / "build" / "state-backups" / stack
        # The CLI's progress: the caller's reporter, else stderr; never stdout, which holds
        # only a command's result (`--json` output is parsed as a whole).
        self.on_output = on_output or _to_stderr
        self._stack_factory = stack_factory
        self._version_lookup = version_lookup or self._version_in_eb
        self._platform_lookup = platform_lookup or self._platform_in_eb
        self.secrets_provider = secrets_provider
        self._said_persisted = False

    # -- what the pipeline reads besides the verbs (automation.engine.Engine) ---------------

    @property
    def config_overrides(self) -> Mapping[str, str]:
        """The `--config` values `up` sets on the stack (`pulumi config set-all`)."""
        return self.run_config.overrides

    @property
    def aws_env(self) -> dict[str, str] | None:
        """Real AWS through the ambient credential chain, in the stack's region.

        Only the region is named: records, notifications and bundle fetches go to the stack's
        `aws:region`, not to whatever region the caller's shell or runner has (AWS_REGION).
        """
        region = self.run_config.parsed.region
        return {"AWS_REGION": region, "AWS_DEFAULT_REGION": region}

    @property
    def records_path(self) -> Path | None:
        """None: records live in the stack's artifact bucket (exported before `destroy`)."""
        return None

    @property
    def state_root(self) -> Path | None:
        """None: the state is in the Pulumi backend, nothing local."""
        return None

    @property
    def cleaned(self) -> list[str]:
        """Nothing: a killed `pulumi up` leaves a lock that `pulumi cancel` clears, not us."""
        return []

    # -- plumbing ---------------------------------------------------------------------------

    def _select(self, bundle: Path | None = None, *, create: bool = False) -> Any:
        """The stack in the project dir, with our env and config applied.

        Only `preview` and `up` may create it (`create_or_select_stack` runs `stack init` when
        `stack select` finds nothing); read-only verbs select, so a typo in a stack name or a
        wrong backend login fails clearly instead of making an empty stack.
        """
        # lazy import: pulumi.automation costs 0.1 s at start-up, and only this engine needs it
        from pulumi import automation as auto

        # The workspace keeps this very dict: VERSION_EXISTS_ENV is added once the stack's state
        # has been read (below), before any preview or up runs the program.
        env = {BUNDLE_ENV: str(bundle)} if bundle else {}
        try:
            if self._stack_factory is not None:
                stack = self._stack_factory(self.stack, str(self.project_dir), env)
            else:
                if shutil.which("pulumi") is None:
                    raise FileNotFoundError("pulumi")
                self._check_passphrase()
                opener = auto.create_or_select_stack if create else auto.select_stack
                stack = opener(
                    stack_name=self.stack,
                    work_dir=str(self.project_dir),
                    opts=auto.LocalWorkspaceOptions(
                        work_dir=str(self.project_dir),
                        env_vars=env,
                        # Used by `stack init` (a new stack): passphrase, awskms://, ...
                        secrets_provider=self.secrets_provider,
                    ),
                )
            if bundle:
                env.update(self._version_env(stack, Path(bundle)))  # a rollback: reference it
            if create:  # preview and up run the program: the platform managed updates moved to
                live = self._platform_lookup()
                env.update({LIVE_PLATFORM_ENV: live} if live else {})
            if self.config_overrides:
                # `pulumi config set-all` writes the stack file, exactly as `pulumi up -c` does:
                # the override stays for later runs, and we say so.
                stack.set_all_config(
                    {
                        key: auto.ConfigValue(value=str(value), secret=key in self.secret_keys)
                        for key, value in self.config_overrides.items()
                    }
                )
                if not self._said_persisted:
                    self._said_persisted = True
                    logging.getLogger("automation").warning(
                        "config overrides %s are persisted in Pulumi.%s.yaml (as `pulumi up -c` "
                        "does); commit or revert that change",
                        ", ".join(sorted(self.config_overrides)),
                        self.stack,
                    )
        except Exception as exc:  # noqa: BLE001 - translated for the user
            raise translate_pulumi_error(exc, self.stack) from exc
        return stack

    def _check_passphrase(self) -> None:
        """A passphrase-encrypted stack needs PULUMI_CONFIG_PASSPHRASE(_FILE); say so up front.

        Without it the CLI stops at an interactive prompt (or a cryptic error in CI).
        """
        stack_file = self.project_dir / f"Pulumi.{self.stack}.yaml"
        uses_passphrase = self.secrets_provider == "passphrase" or (  # pragma: allowlist secret
            self.secrets_provider is None
            and stack_file.is_file()
            and "encryptionsalt:" in stack_file.read_text(encoding="utf-8")
        )
        # Empty counts as unset: a workflow's `${{ secrets.X }}` of a missing secret is "".
        if uses_passphrase and not (
            os.environ.get("PULUMI_CONFIG_PASSPHRASE")
            or os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
        ):
            raise PipelineError(
                f"stack {self.stack!r} uses the passphrase secrets provider but neither "
                "PULUMI_CONFIG_PASSPHRASE nor PULUMI_CONFIG_PASSPHRASE_FILE is set (an empty "
                "value counts as unset: a missing CI secret expands to one)",
                "export PULUMI_CONFIG_PASSPHRASE (a CI secret in the workflows), or use "
                "--secrets-provider awskms://alias/<key>?region=<region> for a new stack",
            )

    def _version_env(self, stack: Any, bundle: Path) -> dict[str, str]:
        """Tell the program when EB holds the bundle's label outside this stack's state."""
        if not self._version_lookup(bundle):
            return {}
        deployment = getattr(stack.export_stack(), "deployment", None) or {}
        managed = managed_version_labels(deployment.get("resources") or [])
        return version_exists_env(bundle_label(bundle), eb_holds=True, managed=managed)

    def _version_in_eb(self, bundle: Path) -> bool:
        """Does EB already hold the bundle's label? (ambient credentials, the stack's region)

        EB refuses to create a label twice per application, and Pulumi never deletes our
        versions (EB's lifecycle does), so a rollback or redeploy must reference the existing
        one. Unknown (no access, no application yet) counts as no: EB then names the problem.
        """
        try:
            eb = eb_client(self.run_config.parsed.region)
            found = eb.describe_application_versions(
                ApplicationName=application_name(self.stack), VersionLabels=[bundle_label(bundle)]
            )
        except Exception:  # noqa: BLE001 - see the docstring
            return False
        return bool(found.get("ApplicationVersions"))

    def _platform_in_eb(self) -> str | None:
        """The live environment's platform (ambient credentials, the stack's region); unknown
        (no access, no environment yet) is None: the program then declares the pin."""
        try:
            return live_platform(eb_client(self.run_config.parsed.region), self.stack)
        except Exception:  # noqa: BLE001 - see the docstring
            return None

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except PipelineError:
            raise
        except Exception as exc:  # noqa: BLE001 - translated for the user
            raise translate_pulumi_error(exc, self.stack) from exc

    # -- the engine interface ---------------------------------------------------------------

    def preview(self, bundle: Path | None = None) -> ChangeSummary:
        stack = self._select(bundle, create=True)
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
        stack = self._select(bundle, create=True)
        self.backup(stack)
        result = self._call(
            "up", lambda: stack.up(on_output=self.on_output, policy_packs=self.policy_packs)
        )
        return _plain_outputs(result.outputs)

    def refresh(self) -> None:
        stack = self._select()
        self._call("refresh", lambda: stack.refresh(on_output=self.on_output))

    def drift(self) -> DriftReport:
        """`pulumi refresh --preview-only`: what the provider reads back that the state does not
        hold, per resource and property; the state itself is left as it is.

        Each resource's step is taken from its outputs event, or from its pre-event when the
        CLI sent no outputs event for it (a preview may send either)."""
        stack = self._select()
        steps: dict[str, tuple[int, Any]] = {}

        def on_event(event: Any) -> None:
            for rank, kind in ((0, "resource_pre_event"), (1, "res_outputs_event")):
                meta = getattr(getattr(event, kind, None), "metadata", None)
                if meta is None or str(meta.type).startswith("pulumi:"):
                    continue
                urn = str(meta.urn or "")
                if rank >= steps.get(urn, (-1, None))[0]:
                    steps[urn] = (rank, meta)

        self._call(
            "refresh",
            lambda: stack.preview_refresh(on_output=self.on_output, on_event=on_event, diff=True),
        )
        report = DriftReport(checked=len(steps))
        for _, meta in steps.values():
            report.drifts.extend(refresh_drifts(meta))
        return report

    def secret_config(self, key: str) -> str:
        """`pulumi config get` of a secret (decrypted by the stack's secrets provider)."""
        stack = self._select()
        full = key if ":" in key else f"{PROJECT}:{key}"
        return str(self._call("config get", lambda: stack.get_config(full)).value)

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
        # `pulumi stack import --file` reads it back: never leave half a file
        write_json_atomic(
            path, {"version": deployment.version, "deployment": deployment.deployment}, indent=None
        )
        return path

    def destroy(self, *, honour_protection: bool = True) -> None:
        """`pulumi destroy`: the CLI itself refuses protected resources, whatever is asked."""
        stack = self._select()
        self._call("destroy", lambda: stack.destroy(on_output=self.on_output))


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _plain_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """OutputValue → plain values; secrets stay masked so no report can leak them."""
    plain: dict[str, Any] = {}
    for key, value in outputs.items():
        secret = getattr(value, "secret", False)
        plain[key] = "[secret]" if secret else getattr(value, "value", value)
    return plain


#: Refresh steps that say the provider read something other than the state holds.
DRIFT_OPS = frozenset({"update", "delete", "replace", "refresh", "read-discard", "discard"})


def refresh_drifts(meta: Any) -> list[Drift]:
    """The drifted properties of one refresh step (its metadata, `pulumi.automation.events`).

    A refreshed resource that is gone is DELETED; otherwise the step's `diffs` name the
    properties, or, when the CLI sent none, the outputs that differ between old and new.
    """
    op = str(getattr(meta.op, "value", meta.op))
    if op not in DRIFT_OPS:
        return []
    urn = str(meta.urn or "")
    name, typ = urn.rsplit("::", 1)[-1] or str(meta.type), str(meta.type)
    old = dict(getattr(meta.old, "outputs", None) or {}) if meta.old else {}
    new = dict(getattr(meta.new, "outputs", None) or {}) if meta.new else {}
    if op in ("delete", "discard", "read-discard") or (meta.old and not meta.new):
        return [Drift(name, typ, DELETED)]
    diffs = list(meta.diffs or []) or sorted(
        k for k in old.keys() | new.keys() if old.get(k) != new.get(k)
    )
    return [Drift(name, typ, prop, old.get(prop), new.get(prop)) for prop in diffs]
