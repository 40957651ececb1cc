"""This run's stack config: `Pulumi.<stack>.yaml` plus the `--config` overrides, parsed once.

The engine (the stack's region), the check stage (is it valid, which platform), the model check
and the bundle (which weights it carries) all judge the same config, the one `up` deploys; one
object per run reads the file and validates it once, and every part is handed that object.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from commandline.stacks import read_stack_file
from common.paths import ROOT
from components.config import StackConfig, StackConfigError, parse_stack_config


class RunConfig:
    """The stack file with this run's overrides on top, validated into a StackConfig on demand.

    Parsing waits for the first part that needs it, so a command that never reads the config
    (`history`, `outputs`) works on a stack whose file is broken, and the check stage reports a
    broken file as a failed finding. The outcome is kept: an invalid config raises the same
    StackConfigError to every part that asks, without parsing again.
    """

    def __init__(
        self, stack: str, overrides: Mapping[str, str] | None = None, *, project_dir: Path = ROOT
    ) -> None:
        self.stack = stack
        self.overrides: dict[str, str] = dict(overrides or {})
        self.project_dir = project_dir
        self._raw: dict[str, Any] | None = None
        self._parsed: StackConfig | StackConfigError | None = None

    @property
    def raw(self) -> dict[str, Any]:
        """The stack file's `config:` with the overrides on top (what `up` deploys)."""
        if self._raw is None:
            self._raw = {**read_stack_file(self.stack, self.project_dir), **self.overrides}
        return dict(self._raw)

    @property
    def parsed(self) -> StackConfig:
        """The validated config; StackConfigError (every problem listed) when it is invalid."""
        if self._parsed is None:
            try:
                self._parsed = parse_stack_config(self.stack, self.raw)
            except StackConfigError as exc:
                self._parsed = exc
        if isinstance(self._parsed, StackConfigError):
            raise self._parsed.with_traceback(None)
        return self._parsed

    @property
    def model(self) -> str:
        """The background-removal model the config selects (the bundle must carry it)."""
        return self.parsed.background_removal_model

    @property
    def self_contained(self) -> bool:
        """Whether the bundle ships its wheelhouse (`selfContainedBundle`)."""
        return self.parsed.self_contained_bundle

    def stack_file_only(self) -> RunConfig:
        """The config without this run's overrides: what the sandbox deploys (it takes none)."""
        if not self.overrides:
            return self
        return RunConfig(self.stack, project_dir=self.project_dir)
