"""Two audiences: people at a terminal get rich progress lines, CI parsers get JSON lines only."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO


def human_mode(as_json: bool, stream: TextIO | None = None) -> bool:
    """Rich output only on a terminal, never with --json or CI=true."""
    stream = stream or sys.stderr
    if as_json or os.environ.get("CI", "").lower() in ("true", "1"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


class StageRenderer:
    """One line per stage: a live spinner while it runs, then its status, duration and detail."""

    ICONS = {"succeeded": "[green]✔[/]", "failed": "[red]✘[/]", "interrupted": "[yellow]■[/]"}

    def __init__(self, stream: TextIO | None = None) -> None:
        from rich.console import Console

        self.console = Console(file=stream or sys.stderr)
        self._status: Any = None

    def __call__(self, event: dict[str, Any]) -> None:
        stage, status = event.get("stage", ""), event.get("status", "")
        if status == "started":
            self._stop()
            self._status = self.console.status(f"[bold]{stage}[/] running…")
            self._status.start()
            return
        if status in self.ICONS and "duration_s" in event:
            self._stop()
            detail = str(event.get("detail") or "")[:120]
            self.console.print(
                f"{self.ICONS[status]} [bold]{stage:<16}[/] {status:<11} "
                f"{event['duration_s']:>7.1f}s  [dim]{detail}[/]",
                highlight=False,
            )
            return
        if stage == "run":
            return  # the final summary is printed by the CLI
        line = f"  {stage}: {status} {event.get('detail', '')}".rstrip()
        if self._status is not None:
            self._status.update(f"[bold]{stage}[/] {status}…")
        self.console.print(f"[dim]{line}[/]", highlight=False)

    def _stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def close(self) -> None:
        self._stop()
