"""Fixtures for verify's unit-level tests: a real, scriptable HTTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.scripted_server import ScriptedServer
from verify import progress


@pytest.fixture()
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()


@pytest.fixture()
def progress_lines() -> Iterator[list[str]]:
    """Capture verify's progress lines (stderr) as a list."""
    lines: list[str] = []

    class Sink:
        def write(self, text: str) -> None:
            lines.extend(t for t in text.splitlines() if t)

        def flush(self) -> None:
            pass

    progress.configure(stream=Sink())
    try:
        yield lines
    finally:
        progress.configure()
