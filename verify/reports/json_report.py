"""verify.json: the machine-readable record; everything else can be rebuilt from it."""

from __future__ import annotations

from pathlib import Path

from common.jsonfile import write_json_atomic
from verify.model import Report


def write_json(report: Report, path: Path) -> Path:
    """verify.json, written whole or not at all (the run index and `automation history` read it
    while later runs write theirs)."""
    write_json_atomic(path, report.to_dict())
    return path
