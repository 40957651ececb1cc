"""verify.json: the machine-readable record; everything else can be rebuilt from it."""

from __future__ import annotations

import json
from pathlib import Path

from verify.model import Report


def write_json(report: Report, path: Path) -> Path:
    path.write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    return path
