"""Which stacks exist: any `Pulumi.<name>.yaml` in the project folder."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class UnknownStackError(ValueError):
    """A stack without a `Pulumi.<name>.yaml`; the message names the ones that exist."""


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
