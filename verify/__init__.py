"""Post-deployment verification driven only by stack outputs.

    from verify import run
    report = run(outputs, report_dir=Path("reports/dev"))
    report.passed, report.exit_code, report.results

AWS access uses the ambient credentials and AWS_ENDPOINT_URL (the sandbox sets it), so the same
checks run against real AWS and against moto.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from common.paths import ROOT
from verify.checks import all_checks
from verify.context import Check
from verify.model import CheckResult, Report, Status
from verify.outputs import OutputsError, public_view, validate
from verify.progress import log
from verify.reports import write_all
from verify.runner import run_checks
from verify.transport import Transport, ca_bundle_file

DEFAULT_TIMEOUT_S = 600.0
DEFAULT_IMAGES = ROOT / "test_images"


def select(
    only: Iterable[str] | None,
    outputs: Mapping[str, Any] | None = None,
    *,
    pipeline: bool = False,
) -> list[Check]:
    """The checks to run, in report order; readiness joins whenever an app check is selected.

    Without `only`: every check except opt-in ones (`load`), which join only in the deployment
    pipeline and only when the outputs ask (`loadTest.runInPipeline`): an operator verifying
    prod by hand must not load-test it by surprise. Unknown names are a usage error naming the
    allowed ones.
    """
    checks = all_checks()
    if not only:
        return [
            c for c in checks if c.opt_in is None or (pipeline and c.opt_in(dict(outputs or {})))
        ]
    wanted = set(only)
    known = {c.name for c in checks}
    unknown = sorted(wanted - known)
    if unknown:
        raise OutputsError(
            f"unknown check(s) {', '.join(unknown)}; allowed: {', '.join(c.name for c in checks)}"
        )
    if any(c.needs_app for c in checks if c.name in wanted):
        wanted.add("readiness")
    return [c for c in checks if c.name in wanted]


def run(
    outputs: Mapping[str, Any],
    *,
    only: Iterable[str] | None = None,
    concurrency: int = 4,
    timeout: float = DEFAULT_TIMEOUT_S,
    report_dir: Path | str | None = None,
    images_dir: Path | str = DEFAULT_IMAGES,
    check_timeouts: Mapping[str, float] | None = None,
    aws_env: Mapping[str, str] | None = None,
    pipeline: bool = False,
    transport: Transport | None = None,
) -> Report:
    """Run the checks against the deployment the outputs describe; write reports if asked.

    Raises OutputsError (before anything runs) when a selected check needs an output that is
    missing or mistyped, or when `only` names an unknown check.
    """
    if concurrency < 1:
        raise OutputsError(f"concurrency must be ≥ 1, got {concurrency}")
    if timeout <= 0:
        raise OutputsError(f"timeout must be > 0 seconds, got {timeout}")
    outputs = dict(outputs)
    checks = select(only, outputs, pipeline=pipeline)
    validate(outputs, {key for c in checks for key in c.requires})
    transport = with_outputs_ca(transport or Transport(), outputs)
    report_path = Path(report_dir) if report_dir is not None else None
    if report_path is not None:
        report_path.mkdir(parents=True, exist_ok=True)
    log(
        f"verifying {outputs.get('stack', '?')} ({outputs.get('app_version', '?')}) at "
        f"{outputs.get('api_url', '?')}: {', '.join(c.name for c in checks)}"
    )
    started = time.monotonic()
    results = run_checks(
        checks,
        outputs,
        concurrency=concurrency,
        timeout_s=timeout,
        report_dir=report_path,
        images_dir=Path(images_dir),
        check_timeouts=dict(check_timeouts or {}),
        aws_env=dict(aws_env) if aws_env else None,
        transport=transport,
    )
    report = Report(
        results, time.monotonic() - started, public_view(outputs), stack=outputs.get("stack")
    )
    if report_path is not None:
        write_all(report, report_path)
    return report


def with_outputs_ca(transport: Transport, outputs: Mapping[str, Any]) -> Transport:
    """A `ca_bundle` output (PEM text: a private CA) is trusted unless a bundle was given."""
    pem = outputs.get("ca_bundle")
    if transport.ca_bundle or not isinstance(pem, str) or not pem.strip():
        return transport
    try:
        return transport.with_ca(ca_bundle_file(pem))
    except ValueError as exc:
        raise OutputsError(f"output 'ca_bundle': {exc}") from exc


__all__ = ["run", "select", "Report", "CheckResult", "Status", "OutputsError"]
