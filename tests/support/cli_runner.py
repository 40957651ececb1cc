"""Running our CLIs (`python -m automation|sandbox|verify …`) as a user would, in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from common.paths import ROOT


def run_module(
    module: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    cwd: Path = ROOT,
) -> subprocess.CompletedProcess[str]:
    """`python -m <module> <args>` from the repository root with this interpreter.

    Output is captured as text and a non-zero exit does not raise: the tests assert the exit
    code and what was said. `env` replaces the whole environment when given (None: inherit).
    """
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
