"""`automation drift`: what AWS holds that the stack does not declare, and the exit code it means.

Pulumi sells drift detection as a hosted feature; this one works with any backend: the Pulumi
engine runs `refresh` in preview-only mode, the sandbox reads its resources back from moto
(sandbox/drift.py). Either way nothing is changed: the report names each drifted resource and
property, and the next `up` (or a `refresh`) is the operator's decision.
"""

from __future__ import annotations

import json

from common.drift import DriftReport

from .notify import RunFacts, run_link
from .pipeline import Pipeline
from .records import git_context
from .status import RunStatus


def drift_status(report: DriftReport) -> RunStatus:
    """Drift is a failure of the stack's promise (exit 1); none is success (exit 0)."""
    return RunStatus.FAILED if report.drifts else RunStatus.SUCCEEDED


def drift_text(stack: str, report: DriftReport) -> str:
    """One line per drifted property, or one line saying there is none."""
    if not report.drifts:
        return f"no drift in {stack}: {report.checked} resources match what the stack declares"
    lines = [f"drift in {stack}: {len(report.drifts)} properties differ from the stack's state"]
    lines += [f"  {drift.line()}" for drift in report.drifts]
    return "\n".join(lines)


def drift_json(stack: str, report: DriftReport) -> str:
    return json.dumps({"stack": stack, **report.to_dict()}, indent=2, default=str)


def announce_drift(pipeline: Pipeline, report: DriftReport) -> bool:
    """Drift found is a `failed` event for the team's channels (if the stack sends those)."""
    notifier = pipeline.notifier
    if not report.drifts or notifier is None:
        return False
    who = git_context(pipeline.project_dir)
    first = "; ".join(d.line() for d in report.drifts[:3])
    more = f" (+{len(report.drifts) - 3} more)" if len(report.drifts) > 3 else ""
    facts = RunFacts(
        stack=pipeline.engine.stack,
        version=str(pipeline.safe_outputs().get("app_version") or ""),
        commit=who["commit"],
        actor=who["actor"],
        outcome="drift",
        reason=f"{len(report.drifts)} properties differ from the stack's state: {first}{more}",
        duration_s=None,
        link=run_link(str(pipeline.run_dir)),
    )
    return notifier.send("failed", facts)
