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


def known_stacks(root: Path | None = None) -> list[str]:
    """Every stack with a Pulumi.<name>.yaml: stacks are files (`pr-123` review stacks too)."""
    from commandline.stacks import available_stacks

    return available_stacks(root or ROOT)


def make_engine(name: str, stack: str, *, state_root: Path | None = None, **kwargs: Any) -> Engine:
    """The engine called `name` for `stack` (sandbox by default: it needs no cloud)."""
    try:
        require_stack(stack, ROOT)
    except UnknownStackError as exc:
        raise UsageError(str(exc)) from exc
    if name == "pulumi":
        from .pulumi_engine import PulumiEngine

        # The policy pack runs on every real preview/up unless explicitly opted out.
        if kwargs.pop("policy_pack", True):
            kwargs.setdefault("policy_packs", [str(ROOT / "policy")])
        return PulumiEngine(stack, project_dir=ROOT, **kwargs)
    if name == "sandbox":
        from .sandbox_engine import SandboxAdapter

        kwargs.pop("policy_pack", None)  # the check stage runs the same rules on the graph
        kwargs.pop("secrets_provider", None)
        if kwargs.get("config_overrides"):
            raise UsageError(
                "config overrides are only applied by --engine pulumi",
                f"edit Pulumi.{stack}.yaml to change what the sandbox deploys",
            )
        return SandboxAdapter(stack, state_root=state_root)
    raise UsageError(f"unknown engine {name!r}; allowed: {', '.join(ENGINES)}")


def effective_config(stack: str, overrides: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The stack file's config with this run's --config overrides on top (what `up` deploys).

    The check stage and the bundle read this, so they judge and build what will be deployed.
    """
    from .preflight import load_stack_file

    return {**load_stack_file(stack), **dict(overrides or {})}


def stack_model(stack: str, overrides: Mapping[str, str] | None = None) -> str:
    """The background-removal model the stack's config selects (the bundle must carry it)."""
    from components.config import parse_stack_config

    return parse_stack_config(stack, effective_config(stack, overrides)).background_removal_model


def build_bundle_for(stack: str, overrides: Mapping[str, str] | None = None) -> Path:
    """Build app/ into a reproducible bundle for this stack's model."""
    from app.bundle import build_bundle

    return build_bundle(model=stack_model(stack, overrides)).path


def fetch_bundle(
    outputs: Mapping[str, Any], label: str, aws_env: Mapping[str, str] | None = None
) -> Path:
    """A previously deployed bundle: local build cache first, else the stack's artifact bucket."""
    from botocore.exceptions import ClientError

    from verify.aws import make_client

    cache = ROOT / "build" / "bundles" / f"{label}.zip"
    if cache.exists():
        return cache
    bucket = outputs.get("artifact_bucket")
    if not bucket:
        raise PipelineError(f"cannot fetch bundle {label}: the stack has no artifact_bucket output")
    cache.parent.mkdir(parents=True, exist_ok=True)
    try:
        make_client("s3", aws_env).download_file(bucket, f"bundles/{label}.zip", str(cache))
    except ClientError as exc:
        raise PipelineError(
            f"bundle {label} is not in s3://{bucket}/bundles/ ({exc})",
            "pick a version listed by `python -m automation history`",
        ) from exc
    return cache


def records_archive(stack: str) -> Path:
    """Where `destroy` exports a real stack's records (its artifact bucket goes with it)."""
    return ROOT / "build" / "deployment-records" / f"{stack}.json"


def record_store_for(engine: Engine, archive: Path | None = None) -> Any:
    """Where deployment records live: beside the sandbox state, or the artifact bucket.

    Both outlive the stack: the sandbox's file is outside the folder `down` deletes; a real
    stack's records are exported before `destroy` and listed with the new stack's. Before the
    stack has an artifact bucket (a first deploy whose `up` failed has no outputs) records go to
    the archive, so even that failure leaves a record.
    """

    def factory(outputs: Mapping[str, Any]) -> RecordStore | None:
        records_path = getattr(engine, "records_path", None)
        if records_path is not None:
            return FileRecordStore(Path(records_path))
        bucket = outputs.get("artifact_bucket") if outputs else None
        live = None
        if bucket:
            from verify.aws import make_client

            live = S3RecordStore(bucket, engine.stack, client=make_client("s3", _aws_env(engine)))
        return ArchivedRecordStore(live, archive or records_archive(engine.stack))

    return factory


def _aws_env(engine: Any) -> dict[str, str] | None:
    """The engine's explicit AWS target (the sandbox's moto); None means the ambient chain."""
    return getattr(engine, "aws_env", None)


def verifier(
    *,
    only: list[str] | None = None,
    timeout: float | None = None,
    concurrency: int | None = None,
    engine: Any = None,
) -> Any:
    """Adapts verify.run to the pipeline's Verifier signature (AWS target: the engine's)."""

    def run_verify(outputs: dict[str, Any], report_dir: Path) -> VerifyOutcome:
        import verify

        kwargs: dict[str, Any] = {
            "report_dir": report_dir,
            "aws_env": _aws_env(engine),
            "pipeline": True,  # opt-in checks the stack asks for (load) run here
        }
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
        blocked = {r.name: r.message for r in report.results if r.status.value == "BLOCKED"}
        summary = {"passed": report.passed, "totals": report.totals, "failed": failed}
        if blocked:
            summary["blocked"] = blocked
        return VerifyOutcome(
            passed=report.passed, summary=summary, report_dir=report_dir, blocked=report.blocked
        )

    return run_verify


def preflight_checks(stack: str, engine: Engine) -> Any:
    """The check stage's list: static checks, then the app booted locally and verified."""
    state_root = Path(getattr(engine, "state_root", None) or DEFAULT_STATE_ROOT)
    overrides = dict(getattr(engine, "config_overrides", None) or {})
    return _preflight_checks(stack, state_root, overrides, real=engine.name == "pulumi")


def _preflight_checks(
    stack: str, state_root: Path, overrides: Mapping[str, str], *, real: bool
) -> Any:
    """The check stage's list: static checks, then the app booted locally and verified."""
    from . import preflight

    def checks() -> list[Finding]:
        from components.config import parse_stack_config

        def config_valid() -> Finding:
            cfg = parse_stack_config(stack, effective_config(stack, overrides))
            return Finding("stack_config", True, f"Pulumi.{stack}.yaml is valid ({cfg.region})")

        def model() -> Finding:
            return preflight.check_model(stack_model(stack, overrides))

        def bundle() -> Finding:
            path = build_bundle_for(stack, overrides)
            return Finding("bundle", True, f"built {path.name} ({path.stat().st_size} bytes)")

        def python_version() -> Finding:
            from components.app_environment import PLATFORM_PYTHON

            return preflight.check_python_version(PLATFORM_PYTHON)

        def platform() -> Finding:
            from botocore.config import Config
            from botocore.exceptions import BotoCoreError, ClientError

            from verify.aws import make_client

            cfg = parse_stack_config(stack, effective_config(stack, overrides))
            quick = Config(connect_timeout=5, read_timeout=15, retries={"total_max_attempts": 2})
            eb = make_client("elasticbeanstalk", {"AWS_REGION": cfg.region}, config=quick)
            try:
                return preflight.check_platform(cfg.solution_stack, eb)
            except (BotoCoreError, ClientError) as exc:
                # Unknown is not a failure here: `up` names a missing platform itself.
                return Finding("platform", True, f"platforms not listed ({exc}); not checked")

        static = preflight.run_all(
            [
                *([platform] if real else []),  # the sandbox's platform list is moto's
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
            outcome = verifier(only=["readiness", "health", "cors", "ml"], engine=engine)(
                outputs, tmp / "report"
            )
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


def _validate_overrides(stack: str, overrides: Mapping[str, str]) -> None:
    """Bad --config values fail before any engine or CLI call, naming the key."""
    from components.config import StackConfigError, parse_stack_config

    if not (ROOT / f"Pulumi.{stack}.yaml").is_file():
        return  # make_engine names the missing stack file
    try:
        parse_stack_config(stack, effective_config(stack, overrides))
    except StackConfigError as exc:
        raise UsageError(str(exc).replace("\n", " "), "fix the --config values") from exc


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
    engine_options: Mapping[str, Any] | None = None,
    **pipeline_kwargs: Any,
) -> Pipeline:
    if engine is None:
        extra: dict[str, Any] = dict(engine_options or {})
        if config_overrides:
            extra["config_overrides"] = dict(config_overrides)
        if config_overrides:
            _validate_overrides(stack, config_overrides)
        engine = make_engine(engine_name, stack, state_root=state_root, **extra)
    return Pipeline(
        engine,
        verifier=verifier(only=verify_only, timeout=verify_timeout, engine=engine),
        checks=preflight_checks(stack, engine),
        bundle_builder=lambda: build_bundle_for(stack, getattr(engine, "config_overrides", None)),
        bundle_fetcher=lambda outputs, label: fetch_bundle(outputs, label, _aws_env(engine)),
        record_store=record_store_for(engine),
        report_root=report_root or ROOT / "reports" / stack,
        project_dir=ROOT,
        **pipeline_kwargs,
    )
