"""Builds a Pipeline for a stack and engine from the project's real parts.

Kept apart from the pipeline so tests can assemble a pipeline with the same parts and one
swapped (a broken bundle, a flaky engine) without re-implementing the wiring.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from commandline.stacks import UnknownStackError, require_stack

from .errors import PipelineError, UsageError
from .pipeline import Engine, Pipeline, VerifyOutcome
from .preflight import Finding
from .records import ArchivedRecordStore, FileRecordStore, RecordStore, S3RecordStore

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ("sandbox", "pulumi")
DEFAULT_STATE_ROOT = ROOT / ".sandbox"


def make_engine(name: str, stack: str, *, state_root: Path | None = None, **kwargs: Any) -> Engine:
    """The engine called `name` for `stack` (sandbox by default: it needs no cloud)."""
    try:
        require_stack(stack, ROOT)
    except UnknownStackError as exc:
        raise UsageError(str(exc)) from exc
    if name == "pulumi":
        from .pulumi_engine import PulumiEngine

        return PulumiEngine(stack, project_dir=ROOT, **kwargs)
    if name == "sandbox":
        from .sandbox_engine import SandboxAdapter

        if kwargs.get("config_overrides"):
            raise UsageError(
                "config overrides are only applied by --engine pulumi",
                f"edit Pulumi.{stack}.yaml to change what the sandbox deploys",
            )
        return SandboxAdapter(stack, state_root=state_root)
    raise UsageError(f"unknown engine {name!r}; allowed: {', '.join(ENGINES)}")


def stack_model(stack: str) -> str:
    """The background-removal model the stack's config selects (the bundle must carry it)."""
    from components.config import parse_stack_config

    from .preflight import load_stack_file

    return parse_stack_config(stack, load_stack_file(stack)).background_removal_model


def build_bundle_for(stack: str) -> Path:
    """Build app/ into a reproducible bundle for this stack's model."""
    from app.bundle import build_bundle

    return build_bundle(model=stack_model(stack)).path


def fetch_bundle(outputs: Mapping[str, Any], label: str) -> Path:
    """A previously deployed bundle: local build cache first, else the stack's artifact bucket."""
    import boto3
    from botocore.exceptions import ClientError

    cache = ROOT / "build" / "bundles" / f"{label}.zip"
    if cache.exists():
        return cache
    bucket = outputs.get("artifact_bucket")
    if not bucket:
        raise PipelineError(f"cannot fetch bundle {label}: the stack has no artifact_bucket output")
    cache.parent.mkdir(parents=True, exist_ok=True)
    try:
        boto3.client("s3").download_file(bucket, f"bundles/{label}.zip", str(cache))
    except ClientError as exc:
        raise PipelineError(
            f"bundle {label} is not in s3://{bucket}/bundles/ ({exc})",
            "pick a version listed by `python -m automation history`",
        ) from exc
    return cache


def records_archive(stack: str) -> Path:
    """Where `destroy` exports a real stack's records (its artifact bucket goes with it)."""
    return ROOT / "build" / "deployment-records" / f"{stack}.json"


def record_store_for(engine: Engine) -> Any:
    """Where deployment records live: beside the sandbox state, or the artifact bucket.

    Both outlive the stack: the sandbox's file is outside the folder `down` deletes; a real
    stack's records are exported before `destroy` and listed with the new stack's.
    """

    def factory(outputs: Mapping[str, Any]) -> RecordStore | None:
        records_path = getattr(engine, "records_path", None)
        if records_path is not None:
            return FileRecordStore(Path(records_path))
        bucket = outputs.get("artifact_bucket") if outputs else None
        live = S3RecordStore(bucket, engine.stack) if bucket else None
        return ArchivedRecordStore(live, records_archive(engine.stack))

    return factory


def verifier(
    *, only: list[str] | None = None, timeout: float | None = None, concurrency: int | None = None
) -> Any:
    """Adapts verify.run to the pipeline's Verifier signature."""

    def run_verify(outputs: dict[str, Any], report_dir: Path) -> VerifyOutcome:
        import verify

        kwargs: dict[str, Any] = {"report_dir": report_dir}
        if only:
            kwargs["only"] = only
        if timeout:
            kwargs["timeout"] = timeout
        if concurrency:
            kwargs["concurrency"] = concurrency
        try:
            report = verify.run(outputs, **kwargs)
        except verify.OutputsError as exc:
            raise UsageError(f"cannot verify: {exc}", "check the stack outputs") from exc
        failed = {
            r.name: r.message for r in report.results if r.status.value in ("FAILED", "ERROR")
        }
        summary = {"passed": report.passed, "totals": report.totals, "failed": failed}
        return VerifyOutcome(passed=report.passed, summary=summary, report_dir=report_dir)

    return run_verify


def preflight_checks(stack: str, engine: Engine) -> Any:
    """The check stage's list: static checks, then the app booted locally and verified."""
    state_root = Path(getattr(engine, "state_root", None) or DEFAULT_STATE_ROOT)
    return _preflight_checks(stack, state_root)


def _preflight_checks(stack: str, state_root: Path) -> Any:
    """The check stage's list: static checks, then the app booted locally and verified."""
    from . import preflight

    def checks() -> list[Finding]:
        from components.config import parse_stack_config

        def config_valid() -> Finding:
            cfg = parse_stack_config(stack, preflight.load_stack_file(stack))
            return Finding("stack_config", True, f"Pulumi.{stack}.yaml is valid ({cfg.region})")

        def model() -> Finding:
            return preflight.check_model(stack_model(stack))

        def bundle() -> Finding:
            path = build_bundle_for(stack)
            return Finding("bundle", True, f"built {path.name} ({path.stat().st_size} bytes)")

        def python_version() -> Finding:
            from components.app_environment import PLATFORM_PYTHON

            return preflight.check_python_version(PLATFORM_PYTHON)

        static = preflight.run_all(
            [
                config_valid,
                preflight.check_requirements_pinned,
                preflight.check_requirements_installed,
                python_version,
                model,
                bundle,
            ]
        )
        if not all(f.ok for f in static):
            return static
        return static + sandbox_checks(stack, state_root)

    return checks


CHECK_FOLDER = ".check"


def clean_orphan_checks(state_root: Path) -> list[str]:
    """Throwaway check sandboxes whose run was killed: stop their processes, delete them.

    Each lives in `<state_root>/.check/<id>/` with the pid (and kernel start time) of the run
    that owns it; a SIGKILLed run leaves moto and the proxy running there, and the next command
    finds them here. Returns one line per sandbox cleaned.
    """
    import shutil

    from sandbox.processes import ProcessRecord, is_alive
    from sandbox.state import read_json

    from .sandbox_engine import SandboxAdapter

    cleaned = []
    for folder in sorted((Path(state_root) / CHECK_FOLDER).glob("*")):
        owner = read_json(folder / "owner.json", default=None) or {}
        if owner and is_alive(ProcessRecord.from_dict(owner)):
            continue
        stopped = []
        for stack_dir in folder.iterdir():
            state = (
                read_json(stack_dir / "sandbox.json", default=None) if stack_dir.is_dir() else None
            )
            if not state:
                continue
            stopped += [
                f"{key} pid {state[key]['process']['pid']}"
                for key in ("app", "proxy", "moto")
                if state.get(key, {}).get("process")
                and is_alive(ProcessRecord.from_dict(state[key]["process"]))
            ]
            SandboxAdapter(stack_dir.name, state_root=folder).destroy()
        shutil.rmtree(folder, ignore_errors=True)
        cleaned.append(
            f"cleaned the check-stage sandbox of a killed run (pid {owner.get('pid', '?')}): "
            + (f"stopped {', '.join(stopped)}" if stopped else "no process was left")
        )
    return cleaned


def _own_check_folder(state_root: Path) -> Path:
    """A fresh folder for this run's throwaway sandbox, marked with this process as owner."""
    import os
    import uuid

    from sandbox.processes import _start_time
    from sandbox.state import write_json_atomic

    folder = Path(state_root) / CHECK_FOLDER / f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    pid = os.getpid()
    write_json_atomic(
        folder / "owner.json",
        {"pid": pid, "start_time": _start_time(pid) or 0, "command": "automation", "log": ""},
    )
    return folder


def sandbox_checks(stack: str, state_root: Path = DEFAULT_STATE_ROOT) -> list[Finding]:
    """Deploy the stack to a throwaway sandbox, then judge what was deployed.

    Two findings: the policy rules over the realised resource graph (the same rule functions
    as the Pulumi policy pack), and the bundle booted under gunicorn passing verify's
    readiness, health, CORS and ML checks.
    """
    import json
    import shutil

    from policy.rules import evaluate, resources_from_sandbox

    from .sandbox_engine import SandboxAdapter

    tmp = _own_check_folder(state_root)
    try:
        engine = SandboxAdapter(stack, state_root=tmp)
        try:
            outputs = engine.up(build_bundle_for(stack))
            state = json.loads((engine.state_dir / "sandbox.json").read_text(encoding="utf-8"))
            violations = evaluate(resources_from_sandbox(state.get("resources", {})))
            outcome = verifier(only=["readiness", "health", "cors", "ml"])(outputs, tmp / "report")
        finally:
            engine.destroy()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    findings = [
        Finding(
            "policy",
            not violations,
            "; ".join(map(str, violations)) or "every policy rule holds for the deployed graph",
        )
    ]
    if outcome.passed:
        findings.append(
            Finding("local_app", True, "app boots under gunicorn; health, CORS and ML pass")
        )
    else:
        findings.append(Finding("local_app", False, f"the app fails locally: {outcome.summary}"))
    return findings


def build_pipeline(
    stack: str,
    engine_name: str,
    *,
    report_root: Path | None = None,
    state_root: Path | None = None,
    verify_only: list[str] | None = None,
    verify_timeout: float | None = None,
    engine: Engine | None = None,
    config_overrides: Mapping[str, str] | None = None,
    **pipeline_kwargs: Any,
) -> Pipeline:
    if engine is None:
        extra = {"config_overrides": dict(config_overrides)} if config_overrides else {}
        engine = make_engine(engine_name, stack, state_root=state_root, **extra)
    return Pipeline(
        engine,
        verifier=verifier(only=verify_only, timeout=verify_timeout),
        checks=preflight_checks(stack, engine),
        bundle_builder=lambda: build_bundle_for(stack),
        bundle_fetcher=fetch_bundle,
        record_store=record_store_for(engine),
        report_root=report_root or ROOT / "reports" / stack,
        project_dir=ROOT,
        **pipeline_kwargs,
    )
