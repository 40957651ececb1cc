"""Options that mean the same thing in `automation`, `sandbox` and `verify` (typer)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click import exceptions as click_errors  # typer 0.29 vendors click

from commandline.exitcodes import ExitCode, epilog
from commandline.interrupts import Interrupted
from commandline.stacks import UnknownStackError, available_stacks, require_stack


class EngineName(StrEnum):
    sandbox = "sandbox"
    pulumi = "pulumi"


def _stack(value: str | None) -> str | None:
    if value is None or value == "":
        return value
    try:
        return require_stack(value)
    except UnknownStackError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _complete_stacks(incomplete: str) -> list[str]:
    return [s for s in available_stacks() if s.startswith(incomplete)]


def split_names(values: list[str] | None) -> list[str] | None:
    """`--only a,b --only c` → [a, b, c]; None when not given."""
    if not values:
        return None
    return [name for value in values for name in value.split(",") if name]


STACK_OPTION = typer.Option(
    "--stack",
    "-s",
    help="any stack with a Pulumi.<stack>.yaml (dev, staging, prod, …)",
    callback=_stack,
    autocompletion=_complete_stacks,
    show_default=False,
)
Stack = Annotated[str, STACK_OPTION]
Engine = Annotated[
    EngineName,
    typer.Option("--engine", "-e", help="sandbox (local, no cloud) or pulumi (real AWS)"),
]
Json = Annotated[bool, typer.Option("--json", help="machine output: JSON only (also when CI=true)")]
ReportDir = Annotated[
    Path | None,
    typer.Option("--report-dir", help="where reports go (default reports/<stack>)"),
]
ONLY_OPTION = typer.Option(
    "--only", help="run only these checks (repeat, or comma-separated: health,ml)"
)
Only = Annotated[list[str] | None, ONLY_OPTION]
StateRoot = Annotated[Path | None, typer.Option("--state-root", hidden=True)]
LockTimeout = Annotated[
    float,
    typer.Option(
        "--lock-timeout", help="seconds to wait for a stack locked by another update", min=0
    ),
]


def new_app(name: str, help_text: str, **kwargs: Any) -> typer.Typer:
    """A Typer app with the exit-code table in every --help."""
    return typer.Typer(
        name=name,
        help=help_text,
        epilog=epilog(),
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
        pretty_exceptions_enable=False,
        **kwargs,
    )


def run_app(app: typer.Typer | Callable[..., Any], prog: str, argv: list[str] | None) -> int:
    """Run a typer app as `main(argv) -> exit code`: usage errors 2, signals 130/143."""
    command = typer.main.get_command(app) if isinstance(app, typer.Typer) else app
    try:
        result = command.main(args=argv, prog_name=prog, standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:
        print(exc.ctx.get_help() if exc.ctx else str(exc), file=sys.stderr)
        return ExitCode.USAGE
    except click_errors.ClickException as exc:
        exc.show()
        return ExitCode.USAGE if exc.exit_code == 2 else exc.exit_code
    except typer.Exit as exc:
        cause = exc.__cause__
        if isinstance(cause, Interrupted):  # typer maps KeyboardInterrupt to Exit(130)
            print(f"{prog}: {cause}", file=sys.stderr)
            return cause.exit_code
        return exc.exit_code
    except typer.Abort:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Interrupted as exc:  # a signal outside any stage: still one line, no traceback
        print(f"{prog}: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # `... | head`
        return ExitCode.OK
    return int(result or 0)
