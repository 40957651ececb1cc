"""Stack files: which stacks exist (`Pulumi.<name>.yaml`) and what their `config:` block says.

The one reader of stack files: the automation's run config and the sandbox's program config
both start from `read_stack_file`, so a missing file, bad YAML or a `config:` that is not a
mapping fail with the same words from every command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from common.paths import ROOT


class UnknownStackError(ValueError):
    """A stack without a `Pulumi.<name>.yaml`; the message names the ones that exist."""


class StackFileError(ValueError):
    """A stack file that exists but cannot be read as a Pulumi stack file."""


def available_stacks(project_dir: Path = ROOT) -> list[str]:
    """Stacks that have a `Pulumi.<stack>.yaml` in the project."""
    return sorted(
        p.name[len("Pulumi.") : -len(".yaml")]
        for p in Path(project_dir).glob("Pulumi.*.yaml")
        if p.name.count(".") == 2
    )


def require_stack(stack: str, project_dir: Path = ROOT) -> str:
    known = available_stacks(project_dir)
    if stack not in known:
        raise UnknownStackError(
            f"unknown stack {stack!r}: no Pulumi.{stack}.yaml; available: "
            f"{', '.join(known) or 'none'}"
        )
    return stack


def read_stack_file(stack: str, project_dir: Path = ROOT) -> dict[str, Any]:
    """The `config:` block of `Pulumi.<stack>.yaml`, as written (keys as in the file)."""
    path = Path(project_dir) / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        require_stack(stack, project_dir)  # names the stacks that exist
        raise UnknownStackError(f"unknown stack {stack!r}: no {path.name}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path.name} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise StackFileError(f"{path.name}: must be a mapping with a 'config' block")
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{path.name}: 'config' must be a mapping")
    return config
