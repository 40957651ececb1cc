"""The Engine protocol: what the pipeline, its wiring and the CLI need from an engine.

Two implementations: `PulumiEngine` (real AWS through the Automation API) and `SandboxAdapter`
(moto plus local processes). Everything the pipeline asks of either is named here, typed, so
no caller has to probe an engine for what it might have.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from common.changes import ChangeSummary
from common.drift import DriftReport


class Engine(Protocol):
    """One stack, deployed somewhere; the verbs of the pipeline plus where its parts live."""

    name: str
    stack: str

    @property
    def aws_env(self) -> dict[str, str] | None:
        """The AWS target of the pipeline's own calls (verify, records, metrics, bundles).

        The sandbox's moto endpoint and fake credentials; the real engine names only the
        stack's region (the ambient credential chain, never the ambient region); None means the
        ambient chain as it is. Handed to each boto3 client, never written to `os.environ`.
        """
        ...

    @property
    def records_path(self) -> Path | None:
        """A local file for the deployment records; None keeps them in the artifact bucket."""
        ...

    @property
    def state_root(self) -> Path | None:
        """Where the engine keeps local state (the sandbox's folder); None when it keeps none."""
        ...

    @property
    def config_overrides(self) -> Mapping[str, str]:
        """This run's `--config` values on top of the stack file (empty when there are none)."""
        ...

    @property
    def cleaned(self) -> list[str]:
        """What the engine found left behind by a killed run and cleaned, to be said."""
        ...

    def preview(self, bundle: Path | None = None) -> ChangeSummary: ...
    def up(self, bundle: Path | None = None) -> dict[str, Any]: ...
    def refresh(self) -> None: ...
    def drift(self) -> DriftReport:
        """What AWS holds that differs from what the stack's state declares; changes nothing."""
        ...

    def secret_config(self, key: str) -> str:
        """A config value the stack file holds encrypted (a Pulumi secret), decrypted: for the
        automation's own use (the team's channel URLs), never printed."""
        ...

    def outputs(self) -> dict[str, Any]: ...
    def history(self) -> list[dict[str, Any]]: ...
    def destroy(self, *, honour_protection: bool = False) -> None:
        """Delete the stack's resources. With `honour_protection`, resources the program
        marked `protect` (deletionProtection) refuse it, as `pulumi destroy` always does."""
        ...
