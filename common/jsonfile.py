"""JSON files that a crash can never leave half-written.

State, records, run results and outputs are read by the next process (or by verify while a run
is still going), so every write goes to a temp file in the same folder and is renamed into place.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


class CorruptJSONError(ValueError):
    """A JSON file exists but does not parse; the message names the file."""

    def __init__(self, path: Path, cause: json.JSONDecodeError) -> None:
        super().__init__(f"{path} is not valid JSON ({cause})")
        self.path = path
        self.cause = cause


def write_json_atomic(
    path: Path, data: Any, *, indent: int | None = 2, durable: bool = True
) -> None:
    """Write `data` as JSON to `path` via a temp file in the same folder and an atomic rename.

    `durable=False` skips the fsync (about 2 ms here): for a status file rewritten ten times a
    second, whose readers need it whole, never on disk after a power loss.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=indent, sort_keys=True, default=str)
            handle.write("\n")
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_json(path: Path, default: Any = None) -> Any:
    """The JSON in `path`; `default` when there is no such file; CorruptJSONError if unparsable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorruptJSONError(Path(path), exc) from exc
