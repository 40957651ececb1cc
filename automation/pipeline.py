"""The deployment pipeline: check → preview → up → verify → (rollback → verify).

One pipeline over either engine. It owns everything that makes a deployment safe: retries of
transient failures, the verify gate, automatic rollback to the last verified version, deployment
records, stage logs, metrics, notifications and the GitHub outputs.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar

from app.bundle import bundle_label
from commandline.exitcodes import ExitCode
from commandline.interrupts import Interrupted, as_interrupted
from common.changes import ChangeSummary
from common.jsonfile import write_json_atomic
from common.polling import (
    Backoff,
    Deadline,
    RetriesExhausted,
    WaitTimeout,
    call_with_retry,
    wait_until,
)
from verify.reports.index import write_index

from . import github, notify
from .artifacts import (
    ArtifactBucket,
    bundle_sha256,
    check_artifact,
    verified_record,
)
from .canary.bake import BakeOutcome, watch_alarms
from .canary.health import EnvironmentHealth
from .canary.inflight import CanaryOutcome, CanaryWatch
from .canary.plan import CanaryPlan
from .canary.report import write_report
from .canary.traffic import SyntheticTraffic
from .engine import Engine
from .errors import CanaryAborted, PipelineError, StackLockedError, TransientError, UsageError
from .preflight import Finding
from .records import DeploymentRecord, RecordStore, git_context, last_verified
from .stagelog import StageLog
from .status import RecordKind, RecordStatus, RunStatus, StageStatus
from .teardown import wait_for_teardowns

__all__ = [
    "Engine",
    "ExitCode",
    "Pipeline",
    "PipelineResult",
    "RunStatus",
    "VerifyOutcome",
    "new_run_id",
    "publish",
]

T = TypeVar("T")


def new_run_id() -> str:
    """A sortable, unique name for one command's report folder: 20261122T013000Z-1a2b3c."""
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:6]}"


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
    """What one command did. Set `status`; `exit_code` follows from it (RunStatus.exit_code).

    Two outcomes refine the code their status implies, each in one method: `refused` (a usage
    error is `failed` but exits 2) and `interrupt` (SIGTERM exits 143, not SIGINT's 130).
    """

    command: str
    stack: str
    engine: str
    status: RunStatus = RunStatus.SUCCEEDED
    exit_code: ExitCode = field(default=ExitCode.OK, init=False)
    message: str = ""
    app_version: str | None = None
    api_url: str | None = None
    deployment_id: str | None = None
    rollback_version: str | None = None
    report_dir: str | None = None
    run_id: str = ""
    run_dir: str | None = None
    started_at: float = field(default_factory=time.time)
    stages: list[dict[str, Any]] = field(default_factory=list)
    verify: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    changes: dict[str, Any] = field(default_factory=dict)
    bundle_sha256: str | None = None
    sbom: str | None = None
    promoted_from: str | None = None

    def __post_init__(self) -> None:
        self.exit_code = self.status.exit_code

    def __setattr__(self, name: str, value: Any) -> None:
        # Every status change carries its exit code along: the two can never disagree.
        if name == "status":
            value = RunStatus(value)
            super().__setattr__("exit_code", value.exit_code)
        super().__setattr__(name, value)

    def refused(self, exc: PipelineError) -> None:
        """The command failed on `exc`; bad input the user can fix (UsageError) exits 2."""
        self.status = RunStatus.FAILED
        self.message = str(exc)
        if isinstance(exc, UsageError):
            self.exit_code = ExitCode.USAGE

    def interrupt(self, signal_exc: Interrupted) -> None:
        """Cut short by a signal: `interrupted`, exiting with that signal's code (130/143)."""
        self.status = RunStatus.INTERRUPTED
        self.exit_code = signal_exc.exit_code

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_markdown(self) -> str:
        lines = [
            f"## {self.status.icon} `{self.command}` {self.stack} ({self.engine}): {self.status}",
            "",
            self.message,
            "",
            f"- app version: `{self.app_version or '-'}`",
            f"- api url: {self.api_url or '-'}",
        ]
        if self.bundle_sha256:
            lines.append(f"- bundle sha256: `{self.bundle_sha256}`")
        if self.sbom:
            lines.append(f"- SBOM (CycloneDX): `{self.sbom}`")
        if self.promoted_from:
            lines.append(f"- promoted from: `{self.promoted_from}` (the artifact it verified)")
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
        run_id: str | None = None,
        renderer: Callable[[dict[str, Any]], None] | None = None,
        lock_timeout_s: float = 600.0,
        lock_poll_s: float = 5.0,
        artifacts: Callable[[dict[str, Any]], ArtifactBucket] | None = None,
        canary: CanaryPlan | None = None,
        notifier: notify.TeamNotifier | None = None,
    ) -> None:
        self.engine = engine
        self.notifier = notifier
        self.canary = canary
        #: The last canary-judged `up` of this pipeline (None when no canary ran).
        self.canary_outcome: CanaryOutcome | None = None
        self.bake_outcome: BakeOutcome | None = None
        self.deploy_started = datetime.now(tz=UTC)
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
        self.lock_timeout_s = lock_timeout_s
        self.lock_poll_s = lock_poll_s
        self.artifacts = artifacts
        self.run_id = run_id or new_run_id()
        self.log = StageLog(
            engine.stack,
            engine.name,
            stream=stream or sys.stderr,
            audit_path=self.run_dir / "pipeline.jsonl",
            renderer=renderer,
        )

    @property
    def run_dir(self) -> Path:
        """This command's own report folder: reports/<stack>/<run_id>/ (never overwritten)."""
        return self.report_root / self.run_id

    # -- helpers ----------------------------------------------------------------------------

    def retrying(self, what: str, fn: Callable[[], T]) -> T:
        """fn, retried on TransientError only: exponential backoff with jitter, bounded.

        A locked stack is waited for (bounded by lock_timeout_s, a progress line per poll)
        rather than retried a few times: another update may well take minutes. Every engine
        call that changes or reads the stack goes through here (the CLI's `destroy` too).
        """
        return self._retrying_transient(what, lambda: self._waiting_for_lock(what, fn))

    def _waiting_for_lock(self, what: str, fn: Callable[[], T]) -> T:
        started = time.monotonic()
        locked: list[StackLockedError] = []

        def attempt() -> tuple[T] | None:
            try:
                return (fn(),)  # a 1-tuple: a verb that returns None still ends the wait
            except StackLockedError as exc:
                locked[:] = [exc]
                return None

        def progress(waited: float) -> None:
            self.log.event(
                what,
                StageStatus.WAITING,
                detail=f"{locked[0].message}; waited {waited:.0f}s of {self.lock_timeout_s:.0f}s",
            )

        try:
            (value,) = wait_until(
                attempt,
                timeout=self.lock_timeout_s,
                what=f"{what} ({self.engine.stack}): the stack lock",
                interval=self.lock_poll_s,
                sleep=self.sleep,
                on_wait=progress,
            )
        except WaitTimeout as timeout:
            exc = locked[0]
            raise PipelineError(
                f"{exc.message}; gave up after waiting {time.monotonic() - started:.0f}s",
                exc.hint or "raise --lock-timeout, or find the other update",
            ) from timeout
        return value

    def _retrying_transient(self, what: str, fn: Callable[[], T]) -> T:
        backoff = Backoff(
            attempts=self.retry_attempts, base_s=self.retry_base_delay, max_s=60.0, jitter=0.5
        )
        try:
            return call_with_retry(
                fn,
                what=f"{what} ({self.engine.stack})",
                is_transient=lambda exc: (
                    isinstance(exc, TransientError) and not isinstance(exc, StackLockedError)
                ),
                deadline=Deadline(self.retry_window_s),
                backoff=backoff,
                sleep=self.sleep,
                log_line=lambda line: self.log.event(what, StageStatus.RETRYING, detail=line),
            )
        except RetriesExhausted as exc:
            raise exc.last from exc

    def new_result(self, command: str) -> PipelineResult:
        return PipelineResult(
            command,
            self.engine.stack,
            self.engine.name,
            run_id=self.run_id,
            run_dir=str(self.run_dir),
        )

    def finish(self, result: PipelineResult) -> PipelineResult:
        """Stages into the result, and the result into the run folder (run.json)."""
        result.stages = [asdict(s) for s in self.log.results]
        write_json_atomic(self.run_dir / "run.json", result.to_dict())
        write_index(self.report_root, self.engine.stack)
        return result

    def interrupted(self, result: PipelineResult, exc: BaseException) -> PipelineResult:
        """The truth after a signal: the stage that was cut short, the exit code, the log line."""
        signal_exc = as_interrupted(exc) or Interrupted(2)
        result.interrupt(signal_exc)
        stage = self._interrupted_stage() or ""
        result.message = f"{signal_exc}" + (f" during {stage}" if stage else "")
        return self.finish(result)

    # -- stages -----------------------------------------------------------------------------

    def check(self) -> PipelineResult:
        result = self.new_result("check")
        with self.log.stage("check") as stage:
            findings = self.checks()
            result.findings = [f.to_dict() for f in findings]
            failed = [f for f in findings if not f.ok]
            if failed:
                stage.status = StageStatus.FAILED
                stage.detail = "; ".join(f"{f.name}: {f.message}" for f in failed)
                result.status = RunStatus.FAILED
                result.message = f"{len(failed)} of {len(findings)} checks failed"
            else:
                result.message = f"all {len(findings)} checks passed"
        return self.finish(result)

    def preview(self, bundle: Path | None = None) -> tuple[ChangeSummary, PipelineResult]:
        result = self.new_result("preview")
        with self.log.stage("preview") as stage:
            bundle = bundle or self.bundle_builder()
            summary = self.retrying("preview", lambda: self.engine.preview(bundle))
            totals = summary.totals()
            stage.detail = ", ".join(f"{op} {n}" for op, n in totals.items() if n)
            result.changes = summary.to_dict()
            result.message = stage.detail or "no changes"
        return summary, self.finish(result)

    def up(self, bundle: Path | None = None) -> tuple[dict[str, Any], PipelineResult]:
        result = self.new_result("up")
        with self.log.stage("up") as stage:
            bundle = bundle or self.bundle_builder()
            outputs = self._up_judged(bundle)
            stage.detail = f"app_version {outputs.get('app_version')}"
            if self.canary_outcome is not None:
                stage.detail += f"; canary {self.canary_outcome.decision}"
        result.app_version = outputs.get("app_version")
        result.api_url = outputs.get("api_url")
        result.message = f"deployed {result.app_version}"
        return outputs, self.finish(result)

    # -- the canary ---------------------------------------------------------------------------

    def _canary_applies(self, before: dict[str, Any], label: str) -> bool:
        """A canary judges a new version against a serving one: not a first or same deploy."""
        serving = before.get("app_version")
        return bool(
            self.canary is not None
            and self.canary.enabled
            and before.get("environment_name")
            and serving
            and serving != label
        )

    def _traffic(self, outputs: dict[str, Any], what: str) -> Any:
        """Synthetic traffic for a window, when the plan has it (else nothing happens)."""
        plan = self.canary.traffic if self.canary else None
        if plan is None or not outputs.get("api_url"):
            return contextlib.nullcontext()
        return SyntheticTraffic(outputs["api_url"], self.run_dir / "canary" / what, plan)

    def _up_judged(self, bundle: Path) -> dict[str, Any]:
        """`engine.up`, with the canary judge beside it when the stack's canary applies."""
        self.canary_outcome = None
        self.deploy_started = datetime.now(tz=UTC)
        before = self.safe_outputs()
        label = bundle_label(bundle)
        if not self._canary_applies(before, label):
            return self.retrying("up", lambda: self.engine.up(bundle))
        plan = self.canary
        assert plan is not None  # noqa: S101 - _canary_applies checked it
        watch = CanaryWatch(
            EnvironmentHealth.for_stack(before, self.engine.aws_env),
            baseline=str(before["app_version"]),
            canary=label,
            config=plan.judge,
            evaluation_s=plan.evaluation_s,
            window_s=plan.window_s,
            human_review=plan.human_review,
            log=lambda line: self.log.event("canary", StageStatus.NOTE, detail=line),
        )
        with self._traffic(before, "evaluation"):
            watch.start()
            try:
                outputs = self.retrying("up", lambda: self.engine.up(bundle))
            except PipelineError as exc:
                outcome = self.canary_outcome = watch.finish()
                self._write_canary()
                if outcome.aborted:
                    why = outcome.verdict.reason if outcome.verdict else ""
                    raise CanaryAborted(
                        f"canary {outcome.decision}: {why}; AbortEnvironmentUpdate returned "
                        f"all traffic to {outcome.baseline}, which served throughout",
                        outcome,
                    ) from exc
                raise
            finally:
                if self.canary_outcome is None:
                    self.canary_outcome = watch.finish()
        self._write_canary()
        return outputs

    def _bake(self, outputs: dict[str, Any]) -> BakeOutcome | None:
        """Watch the stack's alarms after a canary promotion (None: no bake to do)."""
        plan = self.canary
        if plan is None or self.canary_outcome is None or plan.bake_s <= 0:
            return None
        # An alarm that entered ALARM since the deployment began counts, even before the bake
        # started (while the old set drained, or during verify); one firing before does not.
        since = self.deploy_started
        with self.log.stage("bake") as stage, self._traffic(outputs, "bake"):
            outcome = self.bake_outcome = watch_alarms(
                outputs,
                self.engine.aws_env,
                plan.bake_s,
                since=since,
                log=lambda line: self.log.event("bake", StageStatus.NOTE, detail=line),
            )
            stage.detail = outcome.reason
            if not outcome.passed:
                stage.status = StageStatus.FAILED
        self._write_canary()
        return outcome

    def _canary_summary(self) -> dict[str, Any]:
        """What the record and history name: decision, reason, score, the bake's result."""
        summary: dict[str, Any] = {}
        outcome = self.canary_outcome
        if outcome is not None:
            summary.update(
                decision=outcome.decision,
                reason=outcome.verdict.reason if outcome.verdict else None,
                score=outcome.verdict.score if outcome.verdict else None,
                aborted=outcome.aborted,
                baseline=outcome.baseline,
            )
        if self.bake_outcome is not None:
            summary["bake"] = {
                "passed": self.bake_outcome.passed,
                "reason": self.bake_outcome.reason,
            }
        return summary

    def _report_canary(self) -> None:
        """The canary section of the run's report.html (verify's page when verify ran, else a
        page of its own), then canary.json: the verdict with its samples, the watch's looks,
        the plan and the bake."""
        outcome = self.canary_outcome
        if outcome is None or outcome.verdict is None:
            return
        verify_dir = self.run_dir / "verify"
        report_dir = verify_dir if (verify_dir / "report.html").is_file() else self.run_dir
        write_report(outcome.verdict, report_dir)
        self._write_canary()

    def _write_canary(self) -> None:
        """canary.json in the run folder: the watch's looks, the verdict, the bake."""
        if self.canary_outcome is None:
            return
        data = self.canary_outcome.to_json()
        if self.canary is not None:
            data["plan"] = {
                "new_version_percent": self.canary.config.new_version_percent,
                "evaluation_s": round(self.canary.evaluation_s, 2),
                "bake_s": round(self.canary.bake_s, 2),
                "window_s": self.canary.window_s,
                "time_scale": self.canary.time_scale,
                "synthetic_traffic": self.canary.traffic is not None,
                "human_review": self.canary.human_review,
            }
        data["bake"] = self.bake_outcome.to_json() if self.bake_outcome else None
        write_json_atomic(self.run_dir / "canary.json", data)

    def deploy(self, bundle: Path | None = None) -> PipelineResult:
        """`up` on its own (no verify, no rollback), recorded like every deployment.

        The record says `deployed`, never `verified`: `history` lists it and `rollback --to` can
        name it, but an automatic rollback never takes it for a known-good version.
        """
        bundle = bundle or self.bundle_builder()
        record = DeploymentRecord(
            stack=self.engine.stack,
            app_version=bundle_label(bundle),
            engine=self.engine.name,
            run_id=self.run_id,
            bundle_sha256=bundle_sha256(bundle),
            **git_context(self.project_dir),
        )
        self.log.deployment_id = record.id
        before = self.safe_outputs()
        store = self.record_store(before)
        self.guard_artifact(before, store, record.app_version, bundle)
        if store:
            store.save(record)
        try:
            outputs, result = self.up(bundle)
        except CanaryAborted as exc:
            store = store or self.record_store(self.safe_outputs())
            record.canary = self._canary_summary()
            self._mark(store, record, RecordStatus.CANARY_ABORTED, str(exc))
            result = self.new_result("up")
            result.status = RunStatus.ROLLED_BACK
            result.app_version, result.deployment_id = record.app_version, record.id
            result.message = f"{record.app_version}: {exc}"
            self._report_canary()
            return self.finish(result)
        except BaseException as exc:
            cancelled = as_interrupted(exc) is not None or not isinstance(exc, PipelineError)
            store = store or self.record_store(self.safe_outputs())
            status = RecordStatus.INTERRUPTED if cancelled else RecordStatus.DEPLOY_FAILED
            record.canary = self._canary_summary()
            self._mark(store, record, status, str(exc))
            raise
        store = store or self.record_store(outputs)
        self._publish_sbom(outputs, record, bundle, result)
        record.canary = self._canary_summary()
        message = "deployed by `up`; not verified (`run` verifies)"
        if self.canary_outcome is not None:
            message += f"; canary {self.canary_outcome.decision}"
        self._mark(store, record, RecordStatus.DEPLOYED, message)
        result.deployment_id = record.id
        if self.canary_outcome is not None and self.canary_outcome.decision != "pass":
            # promoted, but not on a passing verdict: a human decides (or `rollback`)
            result.status = RunStatus.BLOCKED
            result.message = (
                f"{record.app_version} deployed; canary {self.canary_outcome.decision}: "
                f"{self.canary_outcome.verdict.reason if self.canary_outcome.verdict else ''}"
            )
        self._report_canary()
        return self.finish(result)

    def guard_artifact(
        self,
        outputs: dict[str, Any],
        store: RecordStore | None,
        label: str,
        local: Path | None = None,
    ) -> None:
        """Before anything is deployed: the artifact's bytes must be the ones its record names.

        Raises ArtifactDigestError (exit 1) naming the expected and the actual digest.
        """
        records = store.list() if store else []
        # Without a bucket to read, only the local file is checked.
        bucket = ArtifactBucket({}, None) if self.artifacts is None else self.artifacts(outputs)
        expected = check_artifact(bucket, records, label, local)  # raises on a mismatch
        self.log.event(
            "artifact",
            StageStatus.NOTE,
            detail=f"{label}: sha256 {expected} as recorded" if expected else f"{label}: new",
        )

    def _publish_sbom(
        self,
        outputs: dict[str, Any],
        record: DeploymentRecord,
        bundle: Path,
        result: PipelineResult,
    ) -> None:
        """Upload the bundle's CycloneDX SBOM beside it; the record and the result link it."""
        result.bundle_sha256 = record.bundle_sha256
        if self.artifacts is None or not outputs.get("artifact_bucket"):
            return
        try:
            record.sbom = self.artifacts(outputs).put_sbom(record.app_version, bundle)
        except Exception as exc:  # noqa: BLE001 - the deployment stands; say what is missing
            self.log.event("sbom", StageStatus.NOTE, detail=f"SBOM not uploaded: {exc}")
            return
        result.sbom = record.sbom

    def promote(self, outputs: dict[str, Any], outcome: VerifyOutcome) -> str | None:
        """A full, passing verify of what `up` alone deployed makes it `verified`.

        `up` then `verify` is then what `run` is (a version an automatic rollback may return
        to). Only the newest record, only when it names the version serving, only from
        `deployed`: a verify never rewrites the history of an earlier run.
        """
        store = self.record_store(outputs)
        records = sorted(store.list() if store else [], key=lambda r: r.started_at)
        if not (outcome.passed and records and store):
            return None
        newest, serving = records[-1], outputs.get("app_version")
        if newest.status != RecordStatus.DEPLOYED or newest.app_version != serving:
            return None
        newest.status, newest.verify_summary = RecordStatus.VERIFIED, outcome.summary
        newest.message = f"verified by `verify` (run {self.run_id})"
        store.save(newest)
        return newest.id

    def verify(self, outputs: dict[str, Any] | None = None, label: str = "verify") -> VerifyOutcome:
        outputs = outputs if outputs is not None else self.engine.outputs()
        report_dir = self.run_dir / label
        with self.log.stage(label) as stage:
            outcome = self.verifier(outputs, report_dir)
            stage.detail = json.dumps(outcome.summary, default=str)[:500]
            if not outcome.passed:
                stage.status = StageStatus.FAILED
        return outcome

    def rollback(self, to: str | None = None) -> PipelineResult:
        """Roll forward to `to` or the last verified version, then verify it."""
        result = self.new_result("rollback")
        outputs = self.engine.outputs()
        store = self.record_store(outputs)
        records = store.list() if store else []
        current = outputs.get("app_version")
        if to and not any(r.app_version == to for r in records):
            known = sorted({r.app_version for r in records})
            raise UsageError(
                f"unknown version {to!r}: no deployment of stack {self.engine.stack!r} used it",
                f"pick one of: {', '.join(known)}" if known else "nothing was deployed yet",
            )
        target = to or last_verified(records, exclude=current)
        if not target:
            result.status = RunStatus.NOTHING_TO_ROLL_BACK
            result.message = (
                f"nothing to roll back to: no verified version other than {current or 'none'} "
                "in the deployment records; the stack was left as it was"
            )
            return self.finish(result)
        bundle = self.bundle_fetcher(outputs, target)
        self.guard_artifact(outputs, store, target, bundle)  # refused: exit 1, nothing deployed
        self._rollback_to(target, store, result, bundle=bundle)
        return self.finish(result)

    def _rollback_to(
        self,
        target: str,
        store: RecordStore | None,
        result: PipelineResult,
        *,
        bundle: Path | None = None,
    ) -> bool:
        """Deploy `target` again and verify it; `bundle` when the caller fetched and checked it."""
        record = DeploymentRecord(
            stack=self.engine.stack,
            app_version=target,
            engine=self.engine.name,
            kind=RecordKind.ROLLBACK,
            **git_context(self.project_dir),
        )
        record.run_id = self.run_id
        self.log.deployment_id = record.id
        result.rollback_version = target
        if store:
            store.save(record)
        try:
            with self.log.stage("rollback") as stage:
                outputs = self.engine.outputs()
                if bundle is None:
                    bundle = self.bundle_fetcher(outputs, target)
                    self.guard_artifact(outputs, store, target, bundle)
                record.bundle_sha256 = bundle_sha256(bundle)
                outputs = self.retrying("rollback up", lambda: self.engine.up(bundle))
                stage.detail = f"serving {outputs.get('app_version')}"
        except BaseException as exc:
            if not isinstance(exc, PipelineError):
                self._mark(store, record, RecordStatus.INTERRUPTED, str(exc))
                raise
            self._mark(store, record, RecordStatus.DEPLOY_FAILED, str(exc))
            result.status = RunStatus.NOT_RECOVERED
            result.message = f"rollback to {target} failed: {exc}"
            return False
        try:
            outcome = self.verify(outputs, label="verify-rollback")
        except BaseException as exc:
            self._mark(store, record, RecordStatus.INTERRUPTED, f"{exc} while verifying {target}")
            raise
        record.verify_summary = outcome.summary
        record.status = RecordStatus.VERIFIED if outcome.passed else RecordStatus.VERIFY_FAILED
        record.finished_at = time.time()
        if store:
            store.save(record)
        result.app_version, result.api_url = outputs.get("app_version"), outputs.get("api_url")
        result.verify = outcome.summary
        result.report_dir = str(outcome.report_dir) if outcome.report_dir else None
        if outcome.passed:
            # `rollback` asked for exactly this; a `run` that had to roll back did not succeed
            rolled_back = result.command != "rollback"
            result.status = RunStatus.ROLLED_BACK if rolled_back else RunStatus.SUCCEEDED
            result.message = f"rolled back to {target}, which serves and verifies"
            return True
        result.status = RunStatus.NOT_RECOVERED
        result.message = f"rolled back to {target}, but it does not verify either"
        return False

    # -- build once, promote ------------------------------------------------------------------

    def promote_from(
        self, source: Pipeline, label: str | None = None, *, fetch_only: Path | None = None
    ) -> PipelineResult:
        """Deploy to this stack the artifact `source`'s stack verified (same bytes), then verify.

        Refused with a UsageError (exit 2) when `label` was not verified on the source stack,
        and with ArtifactDigestError (exit 1) when the source's artifact bucket no longer holds
        the bytes its record names. Nothing is built: the source's very bundle is deployed.
        `fetch_only`: stop after the checks, with the bundle in that folder (a release job
        verifies its build provenance before it deploys).
        """
        src = source.engine.stack
        src_outputs = source.safe_outputs()
        store = source.record_store(src_outputs)
        records = store.list() if store else []
        label = label or last_verified(records)
        if not label:
            raise UsageError(
                f"nothing to promote: no version was verified on {src}",
                f"deploy and verify on {src} first (`automation run --stack {src}`)",
            )
        verified = verified_record(records, label)
        if verified is None:
            seen = sorted({r.status.value for r in records if r.app_version == label})
            raise UsageError(
                f"refusing to promote {label}: it was not verified on {src} ("
                + (f"its records there say {', '.join(seen)}" if seen else "never deployed there")
                + ")",
                f"promote a version `automation history --stack {src}` lists as verified",
            )
        if not verified.bundle_sha256:
            raise UsageError(
                f"refusing to promote {label}: its record on {src} carries no bundle digest",
                f"deploy it to {src} again so the record names its bytes",
            )
        if source.artifacts is None:
            raise UsageError(f"{src}: no artifact bucket to promote from")
        bucket = source.artifacts(src_outputs)
        # Under build/, not the run's report folder (reports are uploaded as CI artifacts).
        bundle = bucket.download(
            label, self.project_dir / "build" / "promoted" / self.run_id / f"{label}.zip"
        )
        try:
            check_artifact(bucket, [verified], label, bundle)  # exit 1 on a replaced artifact
            return self._promote_checked(bundle, verified, src, fetch_only)
        finally:
            shutil.rmtree(bundle.parent, ignore_errors=True)

    def _promote_checked(
        self, bundle: Path, verified: DeploymentRecord, src: str, fetch_only: Path | None
    ) -> PipelineResult:
        label = verified.app_version
        self.log.event(
            "promote",
            StageStatus.NOTE,
            detail=f"{label} (sha256 {verified.bundle_sha256}) verified on {src} "
            f"(record {verified.id})",
        )
        if fetch_only is None:
            return self.run(bundle, promoted_from=src)
        fetch_only.mkdir(parents=True, exist_ok=True)
        kept = fetch_only / bundle.name
        shutil.copyfile(bundle, kept)
        result = self.new_result("promote")
        result.app_version, result.bundle_sha256 = label, verified.bundle_sha256
        result.promoted_from = src
        result.message = (
            f"fetched {label} (sha256 {verified.bundle_sha256}, verified on {src}) to {kept}; "
            "nothing deployed"
        )
        return self.finish(result)

    # -- the whole pipeline -----------------------------------------------------------------

    def run(self, bundle: Path | None = None, *, promoted_from: str = "") -> PipelineResult:
        """check → preview → up → verify (→ rollback). With `bundle` (a promotion): that very
        artifact, never a rebuild, and no check stage (it was checked and verified on
        `promoted_from`)."""
        started = time.monotonic()
        result = self.new_result("promote" if promoted_from else "run")
        outputs: dict[str, Any] = {}
        deployment_id = uuid.uuid4().hex[:12]
        self.log.deployment_id = result.deployment_id = deployment_id
        record: DeploymentRecord | None = None
        store: RecordStore | None = None
        try:
            if bundle is None:
                checked = self.check()
                result.findings = checked.findings
                if checked.status != RunStatus.SUCCEEDED:
                    result.status = RunStatus.FAILED
                    result.message = f"check failed, nothing deployed: {checked.message}"
                    return self.finish(result)
                bundle = self.bundle_builder()
            summary, _ = self.preview(bundle)
            result.changes = summary.to_dict()

            before = self.safe_outputs()
            record = DeploymentRecord(
                stack=self.engine.stack,
                app_version=bundle_label(bundle),
                engine=self.engine.name,
                id=deployment_id,
                run_id=self.run_id,
                bundle_sha256=bundle_sha256(bundle),
                promoted_from=promoted_from,
                **git_context(self.project_dir),
            )
            result.app_version = record.app_version
            result.bundle_sha256 = record.bundle_sha256
            result.promoted_from = promoted_from or None
            store = self.record_store(before)
            self.guard_artifact(before, store, record.app_version, bundle)
            if store:
                store.save(record)
            self._announce("started", result, record)

            try:
                outputs, _ = self.up(bundle)
            except CanaryAborted as exc:
                store = store or self.record_store(self.safe_outputs())
                record.canary = self._canary_summary()
                self._mark(store, record, RecordStatus.CANARY_ABORTED, str(exc))
                result.status = RunStatus.ROLLED_BACK
                result.rollback_version = exc.outcome.baseline  # type: ignore[attr-defined]
                result.message = f"{record.app_version}: {exc}"
                return self.finish(result)
            except PipelineError as exc:
                signal_exc = as_interrupted(exc)
                if signal_exc is not None:
                    raise signal_exc from exc  # not a failed deploy to roll back: a cancel
                store = store or self.record_store(self.safe_outputs())
                self._mark(store, record, RecordStatus.DEPLOY_FAILED, str(exc))
                return self._recover(result, store, record, f"up failed: {exc}")

            store = store or self.record_store(outputs)
            result.api_url = outputs.get("api_url")
            self._publish_sbom(outputs, record, bundle, result)
            record.canary = self._canary_summary()
            canary = self.canary_outcome
            if canary is not None and canary.decision == "fail":
                # EB promoted before the abort landed: roll forward to the last verified one
                record.status = RecordStatus.DEPLOY_FAILED
                if store:
                    store.save(record)
                return self._recover(
                    result, store, record, f"canary fail after promotion: {record.canary['reason']}"
                )
            outcome = self.verify(outputs)
            record.verify_summary = outcome.summary
            result.verify = outcome.summary
            result.report_dir = str(outcome.report_dir) if outcome.report_dir else None
            record.finished_at = time.time()
            if outcome.passed:
                bake = self._bake(outputs)
                record.canary = self._canary_summary()
                if bake is not None and not bake.passed:
                    record.status = RecordStatus.VERIFY_FAILED
                    record.message = bake.reason
                    if store:
                        store.save(record)
                    return self._recover(result, store, record, bake.reason)
                if canary is not None and canary.decision != "pass":
                    record.status = RecordStatus.BLOCKED
                    record.message = (
                        f"canary {canary.decision}: {record.canary.get('reason')}; a human "
                        "decides (approve, or `rollback`)"
                    )
                    if store:
                        store.save(record)
                    result.status = RunStatus.BLOCKED
                    result.message = f"{record.app_version} deployed and verified; {record.message}"
                    return self.finish(result)
                record.status = RecordStatus.VERIFIED
                if store:
                    store.save(record)
                result.message = (
                    f"{record.app_version} deployed and verified; report: {result.report_dir}"
                )
                if canary is not None:
                    result.message += f"; canary {canary.decision}"
                    if self.bake_outcome is not None:
                        result.message += f", bake: {self.bake_outcome.reason}"
                return self.finish(result)

            if outcome.blocked:  # a manual step, not a bad version: rolling back would not help
                record.status = RecordStatus.BLOCKED
                if store:
                    store.save(record)
                result.status = RunStatus.BLOCKED
                steps = "; ".join(outcome.summary.get("blocked", {}).values())
                result.message = (
                    f"{record.app_version} deployed; verification is blocked on a manual step "
                    f"(not rolled back): {steps}"
                )
                return self.finish(result)
            record.status = RecordStatus.VERIFY_FAILED
            if store:
                store.save(record)
            return self._recover(result, store, record, "verification failed")
        except PipelineError as exc:
            signal_exc = as_interrupted(exc)
            if signal_exc is not None:  # a signal arrived; whatever failed after it, say so
                return self._interrupted_run(result, record, store, signal_exc)
            result.refused(exc)
            return self.finish(result)
        except (Interrupted, KeyboardInterrupt) as exc:
            return self._interrupted_run(result, record, store, exc)
        finally:
            self._report_canary()
            duration = time.monotonic() - started
            self._announce(notify.EVENT_OF_STATUS[result.status], result, record, duration)
            self._report_run(result, outputs, duration)
            wait_for_teardowns()  # the check sandbox, stopped while the run went on

    def _announce(
        self,
        event: str,
        result: PipelineResult,
        record: DeploymentRecord | None,
        duration: float | None = None,
    ) -> None:
        """The team's channels hear `event` if the stack asks for it (never fails the run)."""
        if self.notifier is None or event not in self.notifier.events:
            return
        who = (
            {"commit": record.commit, "actor": record.actor}
            if record
            else git_context(self.project_dir)
        )
        facts = notify.RunFacts(
            stack=self.engine.stack,
            version=result.app_version or "",
            commit=who["commit"],
            actor=who["actor"],
            outcome="started" if event == "started" else str(result.status),
            reason=result.message if event != "started" else f"{result.command} started",
            duration_s=duration,
            link=notify.run_link(result.run_dir),
        )
        self.notifier.send(event, facts)

    def _interrupted_run(
        self,
        result: PipelineResult,
        record: DeploymentRecord | None,
        store: RecordStore | None,
        exc: BaseException,
    ) -> PipelineResult:
        signal_exc = as_interrupted(exc) or Interrupted(2)
        stage = self._interrupted_stage() or "run"
        if record is not None and record.status in (
            RecordStatus.IN_PROGRESS,
            RecordStatus.DEPLOY_FAILED,
        ):
            store = store or self.record_store(self.safe_outputs())
            self._mark(store, record, RecordStatus.INTERRUPTED, f"{signal_exc} during {stage}")
        return self.interrupted(result, signal_exc)

    def _interrupted_stage(self) -> str | None:
        """The stage a signal cut short, if one was running."""
        return next(
            (s.stage for s in reversed(self.log.results) if s.status == StageStatus.INTERRUPTED),
            None,
        )

    @staticmethod
    def _mark(
        store: RecordStore | None,
        record: DeploymentRecord,
        status: RecordStatus,
        message: str,
    ) -> None:
        record.status, record.message = status, message
        record.finished_at = time.time()
        if store:
            store.save(record)

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
            result.status = RunStatus.NOTHING_TO_ROLL_BACK
            result.message = (
                f"{record.app_version}: {why}; nothing to roll back to (no earlier verified "
                "version)"
            )
            return self.finish(result)
        failed_version = record.app_version
        if self._rollback_to(target, store, result):
            record.status, record.rollback_version = RecordStatus.ROLLED_BACK, target
            if store:
                store.save(record)
        result.message = f"{failed_version}: {why}; {result.message}"
        return self.finish(result)

    def safe_outputs(self) -> dict[str, Any]:
        """The stack outputs, or {} when there are none to read (never deployed, destroyed,
        unreachable): for reporting and record keeping, which must not fail a command."""
        try:
            return self.engine.outputs()
        except PipelineError:
            return {}
        except Exception:  # noqa: BLE001 - best effort while reporting (an interrupted run)
            return {}

    def _report_run(self, result: PipelineResult, outputs: dict[str, Any], duration: float) -> None:
        self.log.event(
            "run", result.status, duration_s=round(duration, 3), exit=int(result.exit_code)
        )
        if result.status == RunStatus.INTERRUPTED:
            return  # no AWS calls after a cancel: the runner may SIGKILL us any moment
        outputs = outputs or self.safe_outputs()
        if outputs:
            aws_env = self.engine.aws_env  # the sandbox's moto, never os.environ
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


def publish(result: PipelineResult, *, as_json: bool, stream: TextIO = sys.stdout) -> None:
    """Print the result, and hand it to GitHub Actions when running there."""
    if as_json:
        stream.write(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    else:
        stream.write(f"{result.command} {result.stack}: {result.status} — {result.message}\n")
        if result.report_dir:
            stream.write(f"report: {Path(result.report_dir) / 'report.html'}\n")
    github.write_outputs(
        {"api_url": result.api_url, "app_version": result.app_version, "status": result.status}
    )
    github.write_step_summary(result.to_markdown())
