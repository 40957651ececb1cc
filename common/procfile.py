"""Running a source bundle the way Elastic Beanstalk does: its Procfile's `web:` process.

The app's dev tools (`app/dev_resources.py`) and the sandbox's environments both start a
bundle and wait for its health endpoint; this is the one place that reads the Procfile,
substitutes the environment and polls health, so they cannot drift from what EB runs.
"""

from __future__ import annotations

import json
import re
import shlex
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from common.polling import Deadline

HEALTH_PATH = "/health"


class ProcfileError(ValueError):
    """A bundle has no Procfile, or no `web:` process in it."""


def web_command(bundle_root: Path) -> str:
    """The Procfile's `web:` command, unexpanded (EB runs exactly this)."""
    procfile = Path(bundle_root) / "Procfile"
    if not procfile.is_file():
        raise ProcfileError(f"bundle {Path(bundle_root).name} has no Procfile; EB needs 'web:'")
    for line in procfile.read_text(encoding="utf-8").splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() == "web" and command.strip():
            return command.strip()
    raise ProcfileError(f"bundle {Path(bundle_root).name}: Procfile has no 'web:' process")


def expand(command: str, env: Mapping[str, str]) -> list[str]:
    """Split a Procfile command and substitute $VAR / ${VAR} from the process environment."""
    substituted = re.sub(
        r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m.group(1), ""), command
    )
    return shlex.split(substituted)


def web_argv(bundle_root: Path, env: Mapping[str, str]) -> list[str]:
    """The `web:` process as argv, with the environment substituted."""
    return expand(web_command(bundle_root), env)


def get_json(url: str, timeout: float = 3.0) -> tuple[int | None, Any]:
    """GET a loopback URL of a process we started → (status, parsed JSON body or error text)."""
    try:
        # Safe: loopback URLs of processes this project started.
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310  # nosec B310
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    except (urllib.error.URLError, ConnectionError, OSError) as exc:
        return None, str(getattr(exc, "reason", exc))
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw[:200].decode("utf-8", "replace")


def wait_healthy(
    base_url: str,
    *,
    timeout: float,
    alive: Callable[[], bool | str],
    cancelled: Callable[[], bool] = lambda: False,
    interval: float = 0.25,
    sleep: Callable[[float], None] | None = None,
) -> None:
    """Poll `<base_url>/health` until it answers 200.

    Raises `ProcessExited` when `alive()` says the process died (it may return a reason string
    instead of False), `HealthCancelled` when `cancelled()` turns true, and `HealthTimeout` with
    the last answer seen when the deadline passes.
    """
    pause = sleep or time.sleep
    deadline = Deadline(timeout)
    last: Any = "no answer yet"
    while not deadline.expired:
        if cancelled():
            raise HealthCancelled(f"{base_url}: cancelled before it became healthy")
        state = alive()
        if state is not True:
            raise ProcessExited(state if isinstance(state, str) else "the process exited")
        status, body = get_json(f"{base_url}{HEALTH_PATH}", timeout=deadline.clip(3.0))
        if status == 200:
            return
        last = f"HTTP {status}: {body}" if status else body
        pause(interval)
    raise HealthTimeout(f"{base_url}{HEALTH_PATH} not 200 within {timeout:g}s", last=last)


class HealthError(RuntimeError):
    """The process did not become healthy."""


class ProcessExited(HealthError):
    pass


class HealthCancelled(HealthError):
    pass


class HealthTimeout(HealthError):
    def __init__(self, message: str, *, last: Any = None) -> None:
        super().__init__(message)
        self.last = last
