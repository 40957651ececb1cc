"""The command lines the README documents in its ```bash blocks, as a user would type them.

The README tests parse each `python -m automation|sandbox|verify …` line with the real CLI, and
the README walk runs every one of them (and the `python -m app.…` tool lines) in a fresh copy.
"""

from __future__ import annotations

import re

from common.paths import ROOT


def bash_lines() -> list[str]:
    """Each line of the README's bash blocks, without its trailing `  # comment`."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]


def documented() -> list[str]:
    """The `python -m automation|sandbox|verify …` lines."""
    return [
        line for line in bash_lines() if re.match(r"python -m (automation|sandbox|verify)\b", line)
    ]


def app_tool_lines() -> list[str]:
    """The `python -m app.…` lines (the tools `make setup` and `make bundle` call)."""
    return [line for line in bash_lines() if line.startswith("python -m app.")]


COMMANDS = documented()
