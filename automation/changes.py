"""A preview's change summary per resource type, rendered for terminals and PR comments."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

#: Operations in the order a reviewer cares about them (destructive first).
OPS = ("delete", "replace", "create", "update", "same")


@dataclass
class ChangeSummary:
    """Counts of planned operations per resource type (e.g. aws:s3/bucket:Bucket → create: 2)."""

    stack: str
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, resource_type: str, op: str, count: int = 1) -> None:
        normal = _normalise(op)
        if normal is None:
            return
        ops = self.by_type.setdefault(resource_type, defaultdict(int))
        ops[normal] += count

    def totals(self) -> dict[str, int]:
        totals: dict[str, int] = {op: 0 for op in OPS}
        for ops in self.by_type.values():
            for op, count in ops.items():
                totals[op] = totals.get(op, 0) + count
        return totals

    @property
    def has_changes(self) -> bool:
        return any(count for op, count in self.totals().items() if op != "same")

    def to_dict(self) -> dict:
        return {
            "stack": self.stack,
            "totals": self.totals(),
            "by_type": {t: dict(ops) for t, ops in sorted(self.by_type.items())},
        }

    def to_markdown(self) -> str:
        """A table for a PR comment; the first line is a stable marker so the comment is edited."""
        totals = self.totals()
        lines = [
            f"<!-- passport-preview:{self.stack} -->",
            f"### Pulumi preview: `{self.stack}`",
            "",
            " · ".join(f"**{totals[op]}** {op}" for op in OPS),
            "",
        ]
        changed = {
            t: ops for t, ops in self.by_type.items() if any(ops.get(o) for o in OPS if o != "same")
        }
        if not changed:
            lines.append("No changes.")
            return "\n".join(lines) + "\n"
        lines += ["| resource type | " + " | ".join(OPS) + " |", "|---" * (len(OPS) + 1) + "|"]
        for rtype in sorted(changed):
            ops = changed[rtype]
            lines.append(f"| `{rtype}` | " + " | ".join(str(ops.get(o, 0)) for o in OPS) + " |")
        return "\n".join(lines) + "\n"


def _normalise(op: object) -> str | None:
    """Fold Pulumi's OpType spellings onto OPS; None for the steps of a replacement.

    A replaced resource emits create-replacement, replace and delete-replaced: counting only
    `replace` keeps one resource one change.
    """
    text = str(getattr(op, "value", op)).lower()
    if text in ("create", "update", "delete", "same", "replace"):
        return text
    if text in ("read", "refresh", "import", "discard"):
        return "same"
    return None
