"""GitHub Actions integration: step outputs and the job summary, only when running there."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path


def write_outputs(values: Mapping[str, object], env: Mapping[str, str] | None = None) -> bool:
    """Append key=value pairs to $GITHUB_OUTPUT (multi-line safe); False when not in Actions."""
    env = os.environ if env is None else env
    target = env.get("GITHUB_OUTPUT")
    if not target:
        return False
    with Path(target).open("a", encoding="utf-8") as fh:
        for key, value in values.items():
            text = "" if value is None else str(value)
            if "\n" in text:
                marker = f"EOF_{uuid.uuid4().hex}"
                fh.write(f"{key}<<{marker}\n{text}\n{marker}\n")
            else:
                fh.write(f"{key}={text}\n")
    return True


def write_step_summary(markdown: str, env: Mapping[str, str] | None = None) -> bool:
    """Append a Markdown section to $GITHUB_STEP_SUMMARY; False when not in Actions."""
    env = os.environ if env is None else env
    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    with Path(target).open("a", encoding="utf-8") as fh:
        fh.write(markdown.rstrip() + "\n\n")
    return True
