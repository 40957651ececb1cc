"""The one exit-code table of `python -m automation`, `python -m sandbox` and `python -m verify`.

A CI step branches on these without parsing logs, so the same situation gets the same code from
every entry point: a mistyped stack, check or version is a usage error (2) everywhere, and 4
("page someone") is reserved for the one case that needs a human at once.
"""

from __future__ import annotations

import signal
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # failed, nothing changed for the worse (a check or verify failed, up refused)
    USAGE = 2  # usage or input error: unknown stack/check/version, bad config, not deployed
    ROLLED_BACK = 3  # the new version failed; the previous verified version serves and verifies
    NOT_RECOVERED = 4  # a deploy failed and the previous version could not be restored: page
    NOTHING_TO_ROLL_BACK = 5  # no earlier verified version exists; the stack was left as it was
    BLOCKED = 6  # deployed; verification waits on a named manual step (SES identity pending)
    INTERRUPTED = 130  # SIGINT (Ctrl-C, the first signal of a GitHub Actions cancel)
    TERMINATED = 143  # SIGTERM


#: (code, meaning) rows, in the order the README and every `--help` show them.
TABLE: tuple[tuple[int, str], ...] = (
    (ExitCode.OK, "success"),
    (ExitCode.FAILED, "failed; nothing deployed or the stack left as it was"),
    (ExitCode.USAGE, "usage or input error (unknown stack, check or version; bad config)"),
    (ExitCode.ROLLED_BACK, "the new version failed; the previous verified version was restored"),
    (ExitCode.NOT_RECOVERED, "a deploy failed and the previous version could not be restored"),
    (ExitCode.NOTHING_TO_ROLL_BACK, "nothing to roll back to (no earlier verified version)"),
    (ExitCode.BLOCKED, "deployed; verification is blocked on a named manual step (no rollback)"),
    (ExitCode.INTERRUPTED, "interrupted by SIGINT; processes stopped, state and records true"),
    (ExitCode.TERMINATED, "interrupted by SIGTERM; as 130"),
)


def for_signal(signum: int) -> ExitCode:
    """128 + the signal number, as shells report a process a signal stopped."""
    return ExitCode.TERMINATED if signum == signal.SIGTERM else ExitCode.INTERRUPTED


def epilog() -> str:
    """The table as a `--help` epilog (typer keeps line breaks in rich markup mode)."""
    return "Exit codes: " + " · ".join(f"{int(code)} {text}" for code, text in TABLE)
