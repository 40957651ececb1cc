"""Deletes at the end of an `up`, as the Pulumi engine does them (for the types that have one).

Pulumi replaces a resource create-before-delete: the new one is created, dependants are updated
to it, and the old one is deleted at the end of the update. A resource the program no longer
declares is deleted too. If the provider's delete fails, the update fails and the old resource
stays in the state marked for deletion ("pending delete"); the next update tries again. A
resource with ``retain_on_delete`` is never deleted through the provider: Pulumi only drops it
from its state (our application versions: EB's own lifecycle retires them).

Only types with a deleter here are deleted; the sandbox keeps everything else, as it always has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.errors import SandboxError
from sandbox.realise import elasticbeanstalk
from sandbox.realise.context import RealiseContext

Deleter = Callable[[RealiseContext, dict[str, Any]], None]
DELETERS: dict[str, Deleter] = {**elasticbeanstalk.DELETERS}


@dataclass
class DeleteResult:
    deleted: list[str] = field(default_factory=list)
    retained: list[str] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    """Old resources whose delete failed: kept for the next update, like Pulumi's state."""
    errors: list[str] = field(default_factory=list)


def doomed(
    old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Resources of the last `up` that this one replaced (a new id) or no longer declares."""
    out = []
    for key, entry in old.items():
        if entry.get("type") not in DELETERS:
            continue
        after = new.get(key)
        if after is None or after.get("id") != entry.get("id"):
            out.append(dict(entry))
    return out


def replaced(
    old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Resources of the last `up` that a (failed) update replaced: pending delete for the next."""
    return [e for e in doomed(old, new) if resource_key(e) in new]


def resource_key(entry: Mapping[str, Any]) -> str:
    return f"{entry.get('type')}::{entry.get('name')}"


def realise_deletes(
    ctx: RealiseContext,
    old: Mapping[str, Mapping[str, Any]],
    new: Mapping[str, Mapping[str, Any]],
    pending: list[dict[str, Any]],
    deleters: Mapping[str, Deleter] | None = None,
) -> DeleteResult:
    """Retry the pending deletes of the last update, then delete what this one replaced."""
    deleters = DELETERS if deleters is None else deleters
    result = DeleteResult()
    seen: set[tuple[str, str]] = set()
    for entry in [*pending, *doomed(old, new)]:
        ident = (str(entry.get("type")), str(entry.get("id")))
        if ident in seen:
            continue
        seen.add(ident)
        label = f"{entry.get('type')} '{entry.get('name')}' (id {entry.get('id')})"
        if entry.get("retain_on_delete"):
            result.retained.append(label)
            continue
        deleter = deleters.get(str(entry.get("type")))
        if deleter is None:
            continue
        try:
            deleter(ctx, entry)
        except SandboxError as exc:
            result.pending.append(entry)
            result.errors.append(f"deleting {label}: {exc}")
        else:
            result.deleted.append(label)
    return result
