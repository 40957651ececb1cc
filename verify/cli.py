"""`python -m verify`: post-deployment checks driven only by the stack outputs.

Exit codes are the shared table (commandline.exitcodes): 0 all passed, 1 any check failed,
2 usage or input error (an unknown check, missing outputs, no credentials), 130/143
interrupted.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from commandline.console import Reporter, reporting
from commandline.exitcodes import ExitCode, epilog
from commandline.guard import guarded
from commandline.options import (
    ONLY_OPTION,
    STACK_OPTION,
    Engine,
    EngineName,
    ReportDir,
    StateRoot,
    new_app,
    run_app,
    split_names,
)
from verify import DEFAULT_TIMEOUT_S, progress, run, select
from verify.checks import names
from verify.model import Report
from verify.outputs import (
    ROOT,
    OutputsError,
    aws_env_for_file,
    load_file,
    load_pulumi,
    load_sandbox,
    sandbox_transport,
    transport_for_file,
    validate,
)
from verify.progress import log
from verify.transport import Transport

PROG = "python -m verify"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE

app = new_app("verify", "Post-deployment checks driven only by the stack outputs.")


@dataclass
class _Done:
    report: Report
    target: Path


def _only(values: list[str] | None) -> list[str] | None:
    wanted = split_names(values)
    unknown = sorted(set(wanted or ()) - set(names()))
    if unknown:
        raise typer.BadParameter(
            f"invalid choice: {', '.join(repr(u) for u in unknown)} "
            f"(choose from {', '.join(names())})"
        )
    return wanted


def _say_error(exc: BaseException) -> None:
    where = "--only: " if isinstance(exc, typer.BadParameter) else ""
    print(f"verify: error: {where}{exc}", file=sys.stderr)


@app.command(epilog=epilog())
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
    ca_bundle: Annotated[
        Path | None,
        typer.Option(
            "--ca-bundle",
            metavar="FILE",
            help="trust these CAs (PEM) for the app's certificate: a private CA",
        ),
    ] = None,
) -> int:
    """Verify a deployment from its stack outputs (--outputs FILE, or --stack S [--engine]).

    Example: python -m verify --stack dev --only health,ml
    """

    def work() -> _Done:
        selected = _only(only)
        if (outputs is None) == (stack is None):
            raise OutputsError("give exactly one of --outputs FILE or --stack S")
        if concurrency < 1:
            raise OutputsError(f"--concurrency must be ≥ 1, got {concurrency}")
        if timeout <= 0:
            raise OutputsError(f"--timeout must be > 0 seconds, got {timeout:g}")
        data, env = _load(outputs, stack, engine, state_root, selected)
        if ca_bundle is not None and not ca_bundle.is_file():
            raise OutputsError(f"--ca-bundle {ca_bundle}: no such file")
        transport = _transport(outputs, stack, engine, state_root)
        transport = transport.with_ca(str(ca_bundle) if ca_bundle else None)
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
            transport=transport,
        )
        return _Done(report, Path(target))

    def finish(done: _Done) -> int:
        report, totals = done.report, done.report.totals
        log(
            f"{'PASSED' if report.passed else 'FAILED'}: {totals['PASSED']} passed, "
            f"{totals['FAILED']} failed, {totals['ERROR']} errors, {totals['SKIPPED']} skipped "
            f"in {report.wall_s:.1f}s (checks sum {report.checks_sum_s:.1f}s)"
        )
        print(f"report: {done.target / 'report.html'}")
        return report.exit_code

    # Progress through one reporter: human lines on a terminal, JSON lines in a pipe or CI.
    reporter = Reporter.for_output(False, **({"stack": stack} if stack else {}))
    with reporting(reporter), progress.routed_to(reporter.lines("verify")):
        return guarded(
            "verify",
            work,
            errors=((typer.BadParameter, EXIT_USAGE), (OutputsError, EXIT_USAGE)),
            finish=finish,
            on_error=_say_error,
            interrupted_note="; no report written",
        )


def _load(
    outputs: Path | None,
    stack: str | None,
    engine: EngineName,
    state_root: Path | None,
    only: list[str] | None,
) -> tuple[dict[str, Any], dict[str, str]]:
    if outputs is not None:
        data = load_file(outputs)
        validate(data, {key for c in select(only) for key in c.requires})  # first: named keys
        return data, aws_env_for_file(outputs, data, only)
    assert stack is not None
    if engine == EngineName.sandbox:
        return load_sandbox(stack, state_root)
    return load_pulumi(stack), {}


def _transport(
    outputs: Path | None, stack: str | None, engine: EngineName, state_root: Path | None
) -> Transport:
    """A sandbox stack's CA and addresses (its state); the defaults for a real stack."""
    if outputs is not None:
        return transport_for_file(outputs)
    if stack is not None and engine == EngineName.sandbox:
        return sandbox_transport(stack, state_root)
    return Transport()


def main(argv: list[str] | None = None) -> int:
    return run_app(app, PROG, argv)


#: The Typer app under its former name (tests and docs import `verify.cli.APP`).
APP = app


if __name__ == "__main__":
    sys.exit(main())
