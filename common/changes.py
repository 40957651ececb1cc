"""A preview's changes per resource (and totals per type), rendered for terminals and PR comments.

Like `pulumi preview`: each resource with its action (create / update / replace / delete /
same) and, for updates and replacements, the properties that change; the PR comment groups
them by component.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

#: Operations in the order a reviewer cares about them (destructive first).
OPS = ("delete", "replace", "create", "update", "same")


ICONS = {"create": "+", "update": "~", "replace": "+-", "delete": "-", "same": " "}


@dataclass
class ResourceChange:
    name: str
    type: str
    op: str
    diffs: list[str] = field(default_factory=list)
    component: str = ""


@dataclass
class ChangeSummary:
    """Planned operations per resource, and their counts per type."""

    stack: str
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)
    resources: list[ResourceChange] = field(default_factory=list)

    def add(
        self,
        resource_type: str,
        op: str,
        count: int = 1,
        *,
        name: str | None = None,
        diffs: list[str] | tuple[str, ...] = (),
        component: str = "",
    ) -> None:
        normal = _normalise(op)
        if normal is None:
            return
        ops = self.by_type.setdefault(resource_type, defaultdict(int))
        ops[normal] += count
        if name is not None:
            self.resources.append(
                ResourceChange(name, resource_type, normal, sorted(diffs), component)
            )

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
            "resources": [
                {
                    "name": r.name,
                    "type": r.type,
                    "op": r.op,
                    "diffs": r.diffs,
                    "component": r.component,
                }
                for r in self.resources
            ],
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
        lines += self._resource_lines()
        lines += [
            "<details><summary>per resource type</summary>",
            "",
            "| resource type | " + " | ".join(OPS) + " |",
            "|---" * (len(OPS) + 1) + "|",
        ]
        for rtype in sorted(changed):
            ops = changed[rtype]
            lines.append(f"| `{rtype}` | " + " | ".join(str(ops.get(o, 0)) for o in OPS) + " |")
        lines += ["", "</details>"]
        return "\n".join(lines) + "\n"

    def _resource_lines(self) -> list[str]:
        """Changed resources grouped by component, destructive actions first."""
        changed = [r for r in self.resources if r.op != "same"]
        if not changed:
            return []
        groups: dict[str, list[ResourceChange]] = defaultdict(list)
        for change in changed:
            groups[change.component or _service(change.type)].append(change)
        lines = []
        for group in sorted(groups):
            lines += [f"#### {group}", "", "| | action | resource | type | changed properties |"]
            lines.append("|---|---|---|---|---|")
            for r in sorted(groups[group], key=lambda r: (OPS.index(r.op), r.name)):
                props = ", ".join(f"`{d}`" for d in r.diffs) or ""
                lines.append(f"| `{ICONS[r.op]}` | {r.op} | `{r.name}` | `{r.type}` | {props} |")
            lines.append("")
        return lines


def _service(resource_type: str) -> str:
    """`aws:s3/bucket:Bucket` → `aws:s3` (the group when the component is not known)."""
    return resource_type.split("/")[0]


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
