"""Drift: a property whose live value differs from what the stack's state says it declared.

Both engines answer in these terms (the sandbox reads moto back; the Pulumi engine parses
`pulumi refresh --preview-only`), so `automation drift` prints and exits the same for either.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: The property a drift names when the resource itself is gone (deleted outside the stack).
DELETED = "(deleted)"


@dataclass(frozen=True)
class Drift:
    """One drifted property of one resource; `declared`/`actual` are None when unknown."""

    resource: str  # the logical name (what the program calls it)
    type: str  # the Pulumi type token
    property: str  # dotted path, e.g. versioningConfiguration.status; DELETED when gone
    declared: Any = None
    actual: Any = None

    def line(self) -> str:
        """`resource (type): property declared X, found Y` for a terminal or a message."""
        if self.property == DELETED:
            return f"{self.resource} ({self.type}): deleted outside the stack"
        values = ""
        if self.declared is not None or self.actual is not None:
            values = f": declared {self.declared!r}, found {self.actual!r}"
        return f"{self.resource} ({self.type}): {self.property}{values}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DriftReport:
    """What differs; how many resources were compared; which recorded ones were not."""

    drifts: list[Drift] = field(default_factory=list)
    checked: int = 0
    unchecked: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "drifted": bool(self.drifts),
            "drifts": [d.to_dict() for d in self.drifts],
            "checked": self.checked,
            "unchecked": list(self.unchecked),
        }
