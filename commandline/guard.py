"""One guard for the three CLIs: what ended a command becomes one line and its exit code.

`python -m automation`, `python -m sandbox` and `python -m verify` run each command's body
through `guarded`, so the same situation ends the same way everywhere (the table is
`commandline.exitcodes`):

- SIGINT/SIGTERM → 130/143 with one line, also for a signal whose exception Python dropped
  (raised inside a GC callback and printed as "Exception ignored"): a body that ends normally
  after a signal still exits as interrupted (`unacknowledged_signal`), so a cancel is never lost;
- the command's own error types → their exit code, the message as one line, no traceback;
- anything else is a bug and keeps its traceback.

Usage errors of the parser itself (an unknown option, a missing --stack) are `run_app`'s.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

from commandline.interrupts import Interrupted, handle_signals, unacknowledged_signal

T = TypeVar("T")

#: (exception type, exit code) rows, most specific first: the first row that matches decides.
ErrorCodes = Sequence[tuple[type[BaseException], int]]


def exit_code_for(exc: BaseException, errors: ErrorCodes) -> int | None:
    """The exit code of the first row whose type `exc` is; None: not an error we report."""
    return next((int(code) for kind, code in errors if isinstance(exc, kind)), None)


def say_error(exc: BaseException) -> None:
    """The default error line: `error: <message>` on stderr."""
    print(f"error: {exc}", file=sys.stderr)


def guarded(
    command: str,
    body: Callable[[], T],
    *,
    errors: ErrorCodes = (),
    finish: Callable[[T], int] | None = None,
    on_error: Callable[[BaseException], None] = say_error,
    on_interrupt: Callable[[Interrupted], int] | None = None,
    interrupted_note: str = "",
) -> int:
    """Run `body` with signals handled; its result (or `finish(result)`) is the exit code.

    `finish` runs only once no signal is outstanding (a command whose signal was lost must
    not publish a success first). `on_interrupt` replaces the default one line
    (`<command>: interrupted by SIGINT<note>`) when a command has more to say (a record).
    """
    with handle_signals():
        try:
            result = body()
            lost = unacknowledged_signal()  # a signal whose exception Python dropped
            if lost is not None:
                raise lost
        except Interrupted as exc:
            if on_interrupt is not None:
                return on_interrupt(exc)
            print(f"{command}: {exc}{interrupted_note}", file=sys.stderr)
            return exc.exit_code
        except Exception as exc:
            code = exit_code_for(exc, errors)
            if code is None:
                raise
            on_error(exc)
            return code
        return int(result) if finish is None else finish(result)
