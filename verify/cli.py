"""`python -m verify`: exit 0 all passed, 1 any check failed, 2 usage or input error."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from verify import DEFAULT_TIMEOUT_S, run
from verify.checks import names
from verify.outputs import ROOT, OutputsError, load_file, load_pulumi, load_sandbox
from verify.progress import log

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 too; keep its usage line
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"verify: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m verify",
        description="Post-deployment checks driven only by the stack outputs.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--outputs", type=Path, metavar="FILE", help="a `pulumi stack output --json` file"
    )
    source.add_argument(
        "--stack", metavar="S", help="read the outputs of this stack (see --engine)"
    )
    parser.add_argument(
        "--engine",
        choices=("sandbox", "pulumi"),
        default="sandbox",
        help="with --stack: the sandbox state or the Pulumi CLI (default sandbox)",
    )
    parser.add_argument(
        "--report-dir", type=Path, metavar="DIR", help="where reports go (default reports/<stack>/)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        choices=names(),
        help=f"run only these checks ({', '.join(names())})",
    )
    parser.add_argument(
        "--concurrency", type=int, default=4, metavar="N", help="checks running at once (default 4)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"bound on the whole run (default {DEFAULT_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--images-dir", type=Path, default=ROOT / "test_images", help=argparse.SUPPRESS
    )
    # Like `python -m sandbox --state-root`: tests keep their sandbox stacks apart from .sandbox/.
    parser.add_argument("--state-root", type=Path, help=argparse.SUPPRESS)
    return parser


def load(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    if args.outputs is not None:
        return load_file(args.outputs), {}
    if args.engine == "sandbox":
        return load_sandbox(args.stack, args.state_root)
    return load_pulumi(args.stack), {}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.concurrency < 1:
            raise OutputsError(f"--concurrency must be ≥ 1, got {args.concurrency}")
        if args.timeout <= 0:
            raise OutputsError(f"--timeout must be > 0 seconds, got {args.timeout:g}")
        outputs, env = load(args)
        os.environ.update(env)  # point boto3 at the sandbox's moto when --engine sandbox
        stack = args.stack or outputs.get("stack") or "outputs"
        report_dir = args.report_dir or ROOT / "reports" / str(stack)
        report = run(
            outputs,
            only=args.only,
            concurrency=args.concurrency,
            timeout=args.timeout,
            report_dir=report_dir,
            images_dir=args.images_dir,
        )
    except OutputsError as exc:
        print(f"verify: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    totals = report.totals
    log(
        f"{'PASSED' if report.passed else 'FAILED'}: {totals['PASSED']} passed, "
        f"{totals['FAILED']} failed, {totals['ERROR']} errors, {totals['SKIPPED']} skipped "
        f"in {report.wall_s:.1f}s (checks sum {report.checks_sum_s:.1f}s)"
    )
    print(f"report: {Path(report_dir) / 'report.html'}")
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
