"""The one CLI guard (commandline/guard.py) that `automation`, `sandbox` and `verify` share."""

from __future__ import annotations

import os
import signal
from types import ModuleType

import pytest

import automation.cli
import sandbox.cli
import verify.cli
from commandline import guard
from commandline.exitcodes import ExitCode
from commandline.guard import guarded


class InputError(ValueError):
    pass


class Broken(RuntimeError):
    pass


ERRORS = ((InputError, ExitCode.USAGE), (ValueError, ExitCode.FAILED))


def raising(exc: BaseException):  # noqa: ANN201 - a body for the guard
    def body() -> int:
        raise exc

    return body


def test_errors_map_to_their_row_most_specific_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert guarded("up", raising(InputError("no such stack")), errors=ERRORS) == ExitCode.USAGE
    assert guarded("up", raising(ValueError("refused")), errors=ERRORS) == ExitCode.FAILED
    assert capsys.readouterr().err.splitlines() == ["error: no such stack", "error: refused"]


def test_anything_else_is_a_bug_and_keeps_its_traceback() -> None:
    with pytest.raises(Broken):
        guarded("up", raising(Broken("bug")), errors=ERRORS)


def test_a_normal_end_goes_through_finish() -> None:
    assert guarded("up", lambda: 3) == 3
    assert guarded("up", lambda: "done", finish=lambda result: 0 if result == "done" else 1) == 0


class DropsItsSignal:
    """Delivers SIGTERM inside `__del__`, where Python prints the exception and drops it."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)


def test_a_signal_python_dropped_still_ends_the_command_as_interrupted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    published: list[object] = []

    def body() -> str:
        DropsItsSignal()  # collected at once: the handler's exception is "ignored"
        return "succeeded"

    code = guarded("up", body, finish=published.append, interrupted_note="; stopped")
    assert code == ExitCode.TERMINATED
    assert published == []  # no success is published for a cancelled command
    assert capsys.readouterr().err.strip() == "up: interrupted by SIGTERM; stopped"


@pytest.mark.parametrize("cli", [automation.cli, sandbox.cli, verify.cli])
def test_every_cli_uses_the_guard(cli: ModuleType) -> None:
    assert cli.guarded is guard.guarded
