"""`python -m verify`: post-deployment checks driven only by the stack outputs.

Exit codes are the shared table (commandline.exitcodes): 0 all passed, 1 any check failed,
2 usage or input error (an unknown check, missing outputs, no credentials), 130/143
interrupted.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from commandline.exitcodes import ExitCode, epilog
from commandline.interrupts import Interrupted, handle_signals
from commandline.options import (
    ONLY_OPTION,
    STACK_OPTION,
    Engine,
    EngineName,
    ReportDir,
    StateRoot,
    run_app,
)
from verify import DEFAULT_TIMEOUT_S, run
from verify.checks import names
from verify.outputs import (
    ROOT,
    OutputsError,
    aws_env_for_file,
    load_file,
    load_pulumi,
    load_sandbox,
)
from verify.progress import log

PROG = "python -m verify"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE


def _only(values: list[str] | None) -> list[str] | None:
    from commandline.options import split_names

    wanted = split_names(values)
    unknown = sorted(set(wanted or ()) - set(names()))
    if unknown:
        raise typer.BadParameter(
            f"invalid choice: {', '.join(repr(u) for u in unknown)} "
            f"(choose from {', '.join(names())})"
        )
    return wanted


def verify(
    outputs: Annotated[
        Path | None,
        typer.Option("--outputs", metavar="FILE", help="a `pulumi stack output --json` file"),
    ] = None,
    stack: Annotated[str | None, STACK_OPTION] = None,
    engine: Engine = EngineName.sandbox,
    report_dir: ReportDir = None,
    only: Annotated[list[str] | None, ONLY_OPTION] = None,
    concurrency: Annotated[int, typer.Option(help="checks running at once")] = 4,
    timeout: Annotated[
        float, typer.Option("--timeout", help="bound on the whole run (s)")
    ] = DEFAULT_TIMEOUT_S,
    images_dir: Annotated[Path, typer.Option(hidden=True)] = ROOT / "test_images",
    state_root: StateRoot = None,
) -> int:
    """Verify a deployment from its stack outputs (--outputs FILE, or --stack S [--engine]).

    Example: python -m verify --stack dev --only health,ml
    """
    with handle_signals():
        try:
            selected = _only(only)
            if (outputs is None) == (stack is None):
                raise OutputsError("give exactly one of --outputs FILE or --stack S")
            if concurrency < 1:
                raise OutputsError(f"--concurrency must be ≥ 1, got {concurrency}")
            if timeout <= 0:
                raise OutputsError(f"--timeout must be > 0 seconds, got {timeout:g}")
            data, env = _load(outputs, stack, engine, state_root, selected)
            name = stack or data.get("stack") or "outputs"
            target = report_dir or ROOT / "reports" / str(name)
            report = run(
                data,
                only=selected,
                concurrency=concurrency,
                timeout=timeout,
                report_dir=target,
                images_dir=images_dir,
                # A sandbox stack's moto, handed to verify's own clients, never os.environ.
                aws_env=env or None,
            )
        except typer.BadParameter as exc:
            print(f"verify: error: --only: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except OutputsError as exc:
            print(f"verify: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except Interrupted as exc:
            print(f"verify: {exc}; no report written", file=sys.stderr)
            return exc.exit_code
    totals = report.totals
    log(
        f"{'PASSED' if report.passed else 'FAILED'}: {totals['PASSED']} passed, "
        f"{totals['FAILED']} failed, {totals['ERROR']} errors, {totals['SKIPPED']} skipped "
        f"in {report.wall_s:.1f}s (checks sum {report.checks_sum_s:.1f}s)"
    )
    print(f"report: {Path(target) / 'report.html'}")
    return report.exit_code


def _load(
    outputs: Path | None,
    stack: str | None,
    engine: EngineName,
    state_root: Path | None,
    only: list[str] | None,
) -> tuple[dict[str, Any], dict[str, str]]:
    if outputs is not None:
        from verify import select
        from verify.outputs import validate

        data = load_file(outputs)
        validate(data, {key for c in select(only) for key in c.requires})  # first: named keys
        return data, aws_env_for_file(outputs, data, only)
    assert stack is not None
    if engine == EngineName.sandbox:
        return load_sandbox(stack, state_root)
    return load_pulumi(stack), {}


def main(argv: list[str] | None = None) -> int:
    return run_app(APP, PROG, argv)


APP = typer.Typer(
    epilog=epilog(),
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
APP.command(epilog=epilog())(verify)


if __name__ == "__main__":
    sys.exit(main())
