"""The order test files start in under `--dist loadfile`: longest first (see tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar


class _HasNodeId(Protocol):
    nodeid: str


Item = TypeVar("Item", bound=_HasNodeId)


def longest_files_first(items: Sequence[Item], seconds: Mapping[str, float]) -> list[Item]:
    """Files by their known seconds, longest first; unknown files after, in collection order.
    A file's tests stay together and in their order (module fixtures and test order rely on it)."""
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        first_seen.setdefault(item.nodeid.split("::")[0], index)

    def key(item: Item) -> tuple[float, int]:
        path = item.nodeid.split("::")[0]
        return (-seconds.get(path, 0.0), first_seen[path])

    return sorted(items, key=key)
