"""The deployment pipeline: check → preview → up → verify → (rollback → verify).

One pipeline over either engine. It owns everything that makes a deployment safe: retries of
transient failures, the verify gate, automatic rollback to the last verified version, deployment
records, stage logs, metrics, notifications and the GitHub outputs.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, Protocol, TextIO

from verify.model import Deadline
from verify.retry import Backoff, RetriesExhausted, call_with_retry

from . import github, notify
from .changes import ChangeSummary
from .errors import PipelineError, TransientError
from .preflight import Finding
from .records import DeploymentRecord, RecordStore, git_context, last_verified
from .stagelog import StageLog


class ExitCode(IntEnum):
    """What a CI step can branch on without parsing logs."""

    OK = 0
    FAILED = 1  # failed before changing the stack, or a command failed with nothing changed
    USAGE = 2  # bad arguments or input
    ROLLED_BACK = 3  # the new version failed; the previous verified version serves again
    NOT_RECOVERED = 4  # failed and the stack is not known to be good: page someone
    BLOCKED = 5  # deployed; verification waits on a named manual step (SES identity pending)


class Engine(Protocol):
    """What the pipeline needs from an engine (PulumiEngine or the sandbox's)."""

    name: str
    stack: str

    def preview(self, bundle: Path | None = None) -> ChangeSummary: ...
    def up(self, bundle: Path | None = None) -> dict[str, Any]: ...
    def refresh(self) -> None: ...
    def outputs(self) -> dict[str, Any]: ...
    def history(self) -> list[dict[str, Any]]: ...
    def destroy(self) -> None: ...


@dataclass
class VerifyOutcome:
    passed: bool
    summary: dict[str, Any]
    report_dir: Path | None = None
    blocked: bool = False
    """Nothing failed; only manual steps (named in summary["blocked"]) are outstanding."""


Verifier = Callable[[dict[str, Any], Path], VerifyOutcome]


@dataclass
class PipelineResult:
    command: str
    stack: str
    engine: str
    status: str = "succeeded"
    exit_code: int = ExitCode.OK
    message: str = ""
    app_version: str | None = None
    api_url: str | None = None
    deployment_id: str | None = None
    rollback_version: str | None = None
    report_dir: str | None = None
    stages: list[dict[str, Any]] = field(default_factory=list)
    verify: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    changes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_markdown(self) -> str:
        icon = {"succeeded": "✅", "rolled_back": "↩️", "failed": "❌"}.get(self.status, "🚨")
        lines = [
            f"## {icon} `{self.command}` {self.stack} ({self.engine}): {self.status}",
            "",
            self.message,
            "",
            f"- app version: `{self.app_version or '-'}`",
            f"- api url: {self.api_url or '-'}",
        ]
        if self.rollback_version:
            lines.append(f"- rolled back to: `{self.rollback_version}`")
        if self.report_dir:
            lines.append(f"- reports: `{self.report_dir}`")
        if self.stages:
            lines += ["", "| stage | status | seconds |", "|---|---|---|"]
            lines += [f"| {s['stage']} | {s['status']} | {s['duration_s']} |" for s in self.stages]
        failed = [f for f in self.findings if not f.get("ok")]
        if failed:
            lines += ["", "**Check failures:**"] + [
                f"- {f['name']}: {f['message']}" for f in failed
            ]
        return "\n".join(lines) + "\n"


class Pipeline:
    """Runs the stages against one engine; every dependency is injected so tests use real ones."""

    def __init__(
        self,
        engine: Engine,
        *,
        verifier: Verifier,
        checks: Callable[[], list[Finding]],
        bundle_builder: Callable[[], Path],
        bundle_fetcher: Callable[[dict[str, Any], str], Path],
        record_store: Callable[[dict[str, Any]], RecordStore | None],
        report_root: Path,
        project_dir: Path,
        retry_attempts: int = 4,
        retry_base_delay: float = 2.0,
        retry_window_s: float = 1800.0,
        sleep: Callable[[float], None] = time.sleep,
        stream: TextIO | None = None,
    ) -> None:
        self.engine = engine
        self.verifier = verifier
        self.checks = checks
        self.bundle_builder = bundle_builder
        self.bundle_fetcher = bundle_fetcher
        self.record_store = record_store
        self.report_root = report_root
        self.project_dir = project_dir
        self.retry_attempts = retry_attempts
        self.retry_base_delay = retry_base_delay
        self.retry_window_s = retry_window_s
        self.sleep = sleep
        self.log = StageLog(engine.stack, engine.name, stream=stream or sys.stderr)

    # -- helpers ----------------------------------------------------------------------------

    def _retrying(self, what: str, fn: Callable[[], Any]) -> Any:
        """fn, retried on TransientError only: exponential backoff with jitter, bounded."""
        backoff = Backoff(
            attempts=self.retry_attempts, base_s=self.retry_base_delay, max_s=60.0, jitter=0.5
        )
        try:
            return call_with_retry(
                fn,
                what=f"{what} ({self.engine.stack})",
                is_transient=lambda exc: isinstance(exc, TransientError),
                deadline=Deadline(self.retry_window_s),
                backoff=backoff,
                sleep=self.sleep,
                log_line=lambda line: self.log.event(what, "retrying", detail=line),
            )
        except RetriesExhausted as exc:
            raise exc.last from exc

    def new_result(self, command: str) -> PipelineResult:
        return PipelineResult(command, self.engine.stack, self.engine.name)

    def finish(self, result: PipelineResult) -> PipelineResult:
        result.stages = [asdict(s) for s in self.log.results]
        return result

    # -- stages -----------------------------------------------------------------------------

    def check(self) -> PipelineResult:
        result = self.new_result("check")
        with self.log.stage("check") as stage:
            findings = self.checks()
            result.findings = [f.to_dict() for f in findings]
            failed = [f for f in findings if not f.ok]
            if failed:
                stage.status = "failed"
                stage.detail = "; ".join(f"{f.name}: {f.message}" for f in failed)
                result.status, result.exit_code = "failed", ExitCode.FAILED
                result.message = f"{len(failed)} of {len(findings)} checks failed"
            else:
                result.message = f"all {len(findings)} checks passed"
        return self.finish(result)

    def preview(self, bundle: Path | None = None) -> tuple[ChangeSummary, PipelineResult]:
        result = self.new_result("preview")
        with self.log.stage("preview") as stage:
            bundle = bundle or self.bundle_builder()
            summary = self._retrying("preview", lambda: self.engine.preview(bundle))
            totals = summary.totals()
            stage.detail = ", ".join(f"{op} {n}" for op, n in totals.items() if n)
            result.changes = summary.to_dict()
            result.message = stage.detail or "no changes"
        return summary, self.finish(result)

    def up(self, bundle: Path | None = None) -> tuple[dict[str, Any], PipelineResult]:
        result = self.new_result("up")
        with self.log.stage("up") as stage:
            bundle = bundle or self.bundle_builder()
            outputs = self._retrying("up", lambda: self.engine.up(bundle))
            stage.detail = f"app_version {outputs.get('app_version')}"
        result.app_version = outputs.get("app_version")
        result.api_url = outputs.get("api_url")
        result.message = f"deployed {result.app_version}"
        return outputs, self.finish(result)

    def verify(self, outputs: dict[str, Any] | None = None, label: str = "verify") -> VerifyOutcome:
        outputs = outputs if outputs is not None else self.engine.outputs()
        report_dir = self.report_root / label
        with self.log.stage(label) as stage:
            outcome = self.verifier(outputs, report_dir)
            stage.detail = json.dumps(outcome.summary, default=str)[:500]
            if not outcome.passed:
                stage.status = "failed"
        return outcome

    def rollback(self, to: str | None = None) -> PipelineResult:
        """Roll forward to `to` or the last verified version, then verify it."""
        result = self.new_result("rollback")
        outputs = self.engine.outputs()
        store = self.record_store(outputs)
        records = store.list() if store else []
        current = outputs.get("app_version")
        target = to or last_verified(records, exclude=current)
        if not target:
            result.status, result.exit_code = "not_recovered", ExitCode.NOT_RECOVERED
            result.message = "no verified version to roll back to (no deployment record verified)"
            return self.finish(result)
        self._rollback_to(target, store, result)
        return self.finish(result)

    def _rollback_to(self, target: str, store: RecordStore | None, result: PipelineResult) -> bool:
        record = DeploymentRecord(
            stack=self.engine.stack,
            app_version=target,
            engine=self.engine.name,
            kind="rollback",
            **git_context(self.project_dir),
        )
        self.log.deployment_id = record.id
        result.rollback_version = target
        try:
            with self.log.stage("rollback") as stage:
                outputs = self.engine.outputs()
                bundle = self.bundle_fetcher(outputs, target)
                outputs = self._retrying("rollback up", lambda: self.engine.up(bundle))
                stage.detail = f"serving {outputs.get('app_version')}"
        except PipelineError as exc:
            record.status, record.message = "deploy_failed", str(exc)
            record.finished_at = time.time()
            if store:
                store.save(record)
            result.status, result.exit_code = "not_recovered", ExitCode.NOT_RECOVERED
            result.message = f"rollback to {target} failed: {exc}"
            return False
        outcome = self.verify(outputs, label="verify-rollback")
        record.verify_summary = outcome.summary
        record.status = "verified" if outcome.passed else "verify_failed"
        record.finished_at = time.time()
        if store:
            store.save(record)
        result.app_version, result.api_url = outputs.get("app_version"), outputs.get("api_url")
        result.verify = outcome.summary
        result.report_dir = str(outcome.report_dir) if outcome.report_dir else None
        if outcome.passed:
            result.status, result.exit_code = "rolled_back", ExitCode.ROLLED_BACK
            result.message = f"rolled back to {target}, which serves and verifies"
            if result.command == "rollback":
                result.status, result.exit_code = "succeeded", ExitCode.OK
            return True
        result.status, result.exit_code = "not_recovered", ExitCode.NOT_RECOVERED
        result.message = f"rolled back to {target}, but it does not verify either"
        return False

    # -- the whole pipeline -----------------------------------------------------------------

    def run(self) -> PipelineResult:
        started = time.monotonic()
        result = self.new_result("run")
        outputs: dict[str, Any] = {}
        deployment_id = uuid.uuid4().hex[:12]
        self.log.deployment_id = result.deployment_id = deployment_id
        try:
            checked = self.check()
            result.findings = checked.findings
            if checked.exit_code != ExitCode.OK:
                result.status, result.exit_code = "failed", ExitCode.FAILED
                result.message = f"check failed, nothing deployed: {checked.message}"
                return self.finish(result)

            bundle = self.bundle_builder()
            summary, _ = self.preview(bundle)
            result.changes = summary.to_dict()

            before = self._safe_outputs()
            record = DeploymentRecord(
                stack=self.engine.stack,
                app_version=_label_of(bundle),
                engine=self.engine.name,
                id=deployment_id,
                **git_context(self.project_dir),
            )
            result.app_version = record.app_version
            store = self.record_store(before)
            if store:
                store.save(record)

            try:
                outputs, _ = self.up(bundle)
            except PipelineError as exc:
                record.status, record.message = "deploy_failed", str(exc)
                record.finished_at = time.time()
                store = store or self.record_store(self._safe_outputs())
                if store:
                    store.save(record)
                return self._recover(result, store, record, f"up failed: {exc}")

            store = store or self.record_store(outputs)
            result.api_url = outputs.get("api_url")
            outcome = self.verify(outputs)
            record.verify_summary = outcome.summary
            result.verify = outcome.summary
            result.report_dir = str(outcome.report_dir) if outcome.report_dir else None
            record.finished_at = time.time()
            if outcome.passed:
                record.status = "verified"
                if store:
                    store.save(record)
                result.message = (
                    f"{record.app_version} deployed and verified; report: {result.report_dir}"
                )
                return self.finish(result)

            if outcome.blocked:  # a manual step, not a bad version: rolling back would not help
                record.status = "blocked"
                if store:
                    store.save(record)
                result.status, result.exit_code = "blocked", ExitCode.BLOCKED
                steps = "; ".join(outcome.summary.get("blocked", {}).values())
                result.message = (
                    f"{record.app_version} deployed; verification is blocked on a manual step "
                    f"(not rolled back): {steps}"
                )
                return self.finish(result)
            record.status = "verify_failed"
            if store:
                store.save(record)
            return self._recover(result, store, record, "verification failed")
        except PipelineError as exc:
            result.status, result.exit_code = "failed", ExitCode.FAILED
            result.message = str(exc)
            return self.finish(result)
        finally:
            self._report_run(result, outputs, time.monotonic() - started)

    def _recover(
        self,
        result: PipelineResult,
        store: RecordStore | None,
        record: DeploymentRecord,
        why: str,
    ) -> PipelineResult:
        records = store.list() if store else []
        target = last_verified(records, exclude=record.app_version)
        if not target:
            result.status, result.exit_code = "not_recovered", ExitCode.NOT_RECOVERED
            result.message = f"{why}; no earlier verified version to roll back to"
            return self.finish(result)
        failed_version = record.app_version
        if self._rollback_to(target, store, result):
            record.status, record.rollback_version = "rolled_back", target
            if store:
                store.save(record)
        result.message = f"{failed_version}: {why}; {result.message}"
        return self.finish(result)

    def _safe_outputs(self) -> dict[str, Any]:
        try:
            return self.engine.outputs()
        except PipelineError:
            return {}

    def _report_run(self, result: PipelineResult, outputs: dict[str, Any], duration: float) -> None:
        outputs = outputs or self._safe_outputs()
        self.log.event("run", result.status, duration_s=round(duration, 3), exit=result.exit_code)
        if outputs:
            aws_env = getattr(self.engine, "aws_env", None)  # the sandbox's moto, never os.environ
            notify.put_deployment_metrics(
                self.engine.stack,
                duration_s=duration,
                succeeded=result.exit_code == ExitCode.OK,
                rolled_back=result.exit_code == ExitCode.ROLLED_BACK,
                aws_env=aws_env,
            )
            if result.exit_code not in (ExitCode.OK,):
                notify.notify(
                    outputs.get("alarm_topic_arn"),
                    f"[{self.engine.stack}] deployment {result.status}",
                    {k: v for k, v in result.to_dict().items() if k not in ("findings", "changes")},
                    aws_env=aws_env,
                )


def _label_of(bundle: Path) -> str:
    from app.bundle import bundle_label

    return bundle_label(bundle)


def publish(result: PipelineResult, *, as_json: bool, stream: TextIO = sys.stdout) -> None:
    """Print the result, and hand it to GitHub Actions when running there."""
    if as_json:
        stream.write(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    else:
        stream.write(f"{result.command} {result.stack}: {result.status} — {result.message}\n")
    github.write_outputs(
        {"api_url": result.api_url, "app_version": result.app_version, "status": result.status}
    )
    github.write_step_summary(result.to_markdown())
