"""Builds a Pipeline for a stack and engine from the project's real parts.

Kept apart from the pipeline so tests can assemble a pipeline with the same parts and one
swapped (a broken bundle, a flaky engine) without re-implementing the wiring. The stack's
config is read and validated once per pipeline (a `RunConfig`), and every part that judges or
builds what `up` deploys — the engine, the check stage, the model check, the bundle — is given
that one object.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

import verify
from app.bundle import build_bundle
from commandline.stacks import UnknownStackError, available_stacks, require_stack
from common.jsonfile import read_json, write_json_atomic
from common.paths import DEFAULT_STATE_ROOT, ROOT, StackPaths
from common.pids import same_process, this_process
from components.config import StackConfig, StackConfigError
from components.config.rules_notifications import parse_notifications
from policy.rules import evaluate, resources_from_sandbox
from verify.aws import make_client
from verify.outputs import sandbox_transport

from . import preflight
from .artifacts import ArtifactBucket
from .canary.plan import CanaryPlan
from .eb_live import eb_client, live_platform
from .engine import Engine
from .errors import PipelineError, UsageError
from .notify import TeamNotifier
from .pipeline import Pipeline, Verifier, VerifyOutcome
from .preflight import Finding
from .pulumi_engine import PulumiEngine
from .records import ArchivedRecordStore, FileRecordStore, RecordStore, S3RecordStore
from .runconfig import RunConfig
from .sandbox_engine import SandboxAdapter
from .teardown import in_background

__all__ = [
    "DEFAULT_STATE_ROOT",
    "ENGINES",
    "build_bundle_for",
    "build_pipeline",
    "clean_orphan_checks",
    "effective_config",
    "fetch_bundle",
    "known_stacks",
    "make_engine",
    "preflight_checks",
    "record_store_for",
    "records_archive",
    "sandbox_checks",
    "stack_model",
    "verifier",
]

ENGINES = ("sandbox", "pulumi")
CHECK_FOLDER = ".check"
#: In each check folder: the run that owns it (pid + kernel start time), so a later command
#: can tell a killed run's leftovers from a running one's.
OWNER_FILE = "owner.json"
#: The checks the check stage runs against its throwaway sandbox.
LOCAL_CHECKS = ["readiness", "health", "cors", "ml"]


def known_stacks(root: Path | None = None) -> list[str]:
    """Every stack with a Pulumi.<name>.yaml: stacks are files (`pr-123` review stacks too)."""
    return available_stacks(root or ROOT)


def make_engine(
    name: str,
    stack: str,
    *,
    state_root: Path | None = None,
    run_config: RunConfig | None = None,
    **kwargs: Any,
) -> Engine:
    """The engine called `name` for `stack` (sandbox by default: it needs no cloud).

    `run_config` is the run's parsed config, shared with the engine (the Pulumi engine reads
    the stack's region from it); without one the engine reads the stack file itself.
    """
    try:
        require_stack(stack, ROOT)
    except UnknownStackError as exc:
        raise UsageError(str(exc)) from exc
    time_scale = float(kwargs.pop("time_scale", 1.0) or 1.0)
    if name == "pulumi":
        if time_scale != 1.0:
            raise UsageError(
                f"--time-scale {time_scale:g} is refused with --engine pulumi: Elastic Beanstalk "
                "runs EvaluationTime in real minutes and CloudWatch its alarm periods in real "
                "seconds; only the sandbox can compress them",
                "drop --time-scale, or use --engine sandbox",
            )
        # The policy pack runs on every real preview/up unless explicitly opted out.
        if kwargs.pop("policy_pack", True):
            kwargs.setdefault("policy_packs", [str(ROOT / "policy")])
        if run_config is not None:
            kwargs.pop("config_overrides", None)  # they are the run config's
            kwargs["run_config"] = run_config
        return PulumiEngine(stack, project_dir=ROOT, **kwargs)
    if name == "sandbox":
        kwargs.pop("policy_pack", None)  # the check stage runs the same rules on the graph
        kwargs.pop("secrets_provider", None)
        overrides = kwargs.pop("config_overrides", None) or (
            run_config.overrides if run_config else None
        )
        if overrides:
            raise UsageError(
                "config overrides are only applied by --engine pulumi",
                f"edit Pulumi.{stack}.yaml to change what the sandbox deploys",
            )
        return SandboxAdapter(stack, state_root=state_root, time_scale=time_scale)
    raise UsageError(f"unknown engine {name!r}; allowed: {', '.join(ENGINES)}")


def effective_config(stack: str, overrides: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The stack file's config with these --config overrides on top (what `up` deploys)."""
    return RunConfig(stack, overrides).raw


def stack_model(stack: str, overrides: Mapping[str, str] | None = None) -> str:
    """The background-removal model the stack's config selects (the bundle must carry it)."""
    return RunConfig(stack, overrides).model


def build_bundle_for(config: RunConfig) -> Path:
    """Build app/ into a reproducible bundle carrying the model this config selects."""
    return build_bundle(model=config.model, self_contained=config.self_contained).path


def fetch_bundle(
    outputs: Mapping[str, Any], label: str, aws_env: Mapping[str, str] | None = None
) -> Path:
    """A previously deployed bundle: local build cache first, else the stack's artifact bucket.

    A download is fetched afresh every time (`build/fetched/`), never taken for the build
    cache: a bundle replaced in the bucket must not stay poisoned here once the bucket is fixed
    (the pipeline checks either against the record before deploying it).
    """
    cache = ROOT / "build" / "bundles" / f"{label}.zip"
    if cache.exists():
        return cache
    bucket = outputs.get("artifact_bucket")
    if not bucket:
        raise PipelineError(f"cannot fetch bundle {label}: the stack has no artifact_bucket output")
    cache = ROOT / "build" / "fetched" / f"{label}.zip"
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


def record_store_for(
    engine: Engine, archive: Path | None = None
) -> Callable[[Mapping[str, Any]], RecordStore | None]:
    """Where deployment records live: beside the sandbox state, or the artifact bucket.

    Both outlive the stack: the sandbox's file is outside the folder `down` deletes; a real
    stack's records are exported before `destroy` and listed with the new stack's. Before the
    stack has an artifact bucket (a first deploy whose `up` failed has no outputs) records go to
    the archive, so even that failure leaves a record.
    """

    def factory(outputs: Mapping[str, Any]) -> RecordStore | None:
        if engine.records_path is not None:
            return FileRecordStore(Path(engine.records_path))
        bucket = outputs.get("artifact_bucket") if outputs else None
        live = None
        if bucket:
            client = make_client("s3", engine.aws_env)
            live = S3RecordStore(bucket, engine.stack, client=client)
        return ArchivedRecordStore(live, archive or records_archive(engine.stack))

    return factory


def verifier(
    *,
    only: list[str] | None = None,
    timeout: float | None = None,
    concurrency: int | None = None,
    engine: Engine | None = None,
) -> Verifier:
    """Adapts verify.run to the pipeline's Verifier signature (AWS target: the engine's)."""

    def run_verify(outputs: dict[str, Any], report_dir: Path) -> VerifyOutcome:
        kwargs: dict[str, Any] = {
            "report_dir": report_dir,
            "aws_env": engine.aws_env if engine is not None else None,
            # A sandbox stack with a certificate: its CA and loopback listeners (its state).
            "transport": (
                sandbox_transport(engine.stack, engine.state_root)
                if engine is not None and engine.state_root is not None
                else None
            ),
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


def preflight_checks(
    config: RunConfig,
    *,
    state_root: Path | None = None,
    real: bool = False,
    bundle_builder: Callable[[], Path] | None = None,
) -> Callable[[], list[Finding]]:
    """The check stage's list: static checks, then the app booted locally and verified.

    `real` adds what only real AWS can answer (is the pinned EB platform still offered); the
    throwaway sandbox goes under `state_root` (default: the project's .sandbox/).
    """
    check_root = Path(state_root) if state_root else DEFAULT_STATE_ROOT

    def config_valid() -> Finding:
        return Finding(
            "stack_config", True, f"Pulumi.{config.stack}.yaml is valid ({config.parsed.region})"
        )

    def model() -> Finding:
        return preflight.check_model(config.model)

    built: list[Path] = []

    def bundle() -> Finding:
        path = (bundle_builder or (lambda: build_bundle_for(config)))()
        built.append(path)
        return Finding("bundle", True, f"built {path.name} ({path.stat().st_size} bytes)")

    def bundle_installs() -> Finding:
        if not built:
            return Finding("bundle_installs", False, "no bundle was built")
        return preflight.check_bundle_installs(built[-1])

    def python_version() -> Finding:
        # lazy import: components.app_environment loads pulumi_aws, 0.2 s at every start-up
        from components.app_environment import PLATFORM_PYTHON

        return preflight.check_python_version(PLATFORM_PYTHON)

    def platform() -> Finding:
        eb = eb_client(config.parsed.region)
        try:
            live = live_platform(eb, config.stack)
        except (BotoCoreError, ClientError):
            live = None  # unknown: judged as a stack without an environment
        try:
            return preflight.check_platform(config.parsed.solution_stack, eb, live)
        except (BotoCoreError, ClientError) as exc:
            # Unknown is not a failure here: `up` names a missing platform itself.
            return Finding("platform", True, f"platforms not listed ({exc}); not checked")

    def checks() -> list[Finding]:
        static = preflight.run_all(
            [
                *([platform] if real else []),  # the sandbox's platform list is moto's
                config_valid,
                preflight.check_requirements_pinned,
                preflight.check_requirements_installed,
                python_version,
                model,
                bundle,
                bundle_installs,
            ]
        )
        if not all(f.ok for f in static):
            return static
        return static + sandbox_checks(config.stack_file_only(), check_root)

    return checks


def clean_orphan_checks(state_root: Path) -> list[str]:
    """Throwaway check sandboxes whose run was killed: stop their processes, delete them.

    Each lives in `<state_root>/.check/<id>/` with the pid (and kernel start time) of the run
    that owns it; a SIGKILLed run leaves moto and the proxy running there, and the next command
    finds them here. Returns one line per sandbox cleaned.
    """
    cleaned = []
    for folder in sorted((Path(state_root) / CHECK_FOLDER).glob("*")):
        owner = read_json(folder / OWNER_FILE, default=None) or {}
        if owner and same_process(int(owner["pid"]), int(owner["start_time"])):
            continue
        stopped = []
        for stack_dir in folder.iterdir():
            if not StackPaths(folder, stack_dir.name).sandbox.is_file():
                continue  # not a stack's state (.history, .records, a half-made folder)
            engine = SandboxAdapter(stack_dir.name, state_root=folder)
            stopped += [f"{role} pid {pid}" for role, pid in engine.running_processes()]
            engine.destroy()
        shutil.rmtree(folder, ignore_errors=True)
        cleaned.append(
            f"cleaned the check-stage sandbox of a killed run (pid {owner.get('pid', '?')}): "
            + (f"stopped {', '.join(stopped)}" if stopped else "no process was left")
        )
    return cleaned


def _own_check_folder(state_root: Path) -> Path:
    """A fresh folder for this run's throwaway sandbox, marked with this process as owner."""
    folder = Path(state_root) / CHECK_FOLDER / f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    write_json_atomic(folder / OWNER_FILE, {**this_process(), "command": "automation", "log": ""})
    return folder


def sandbox_checks(config: RunConfig, state_root: Path = DEFAULT_STATE_ROOT) -> list[Finding]:
    """Deploy the stack to a throwaway sandbox, then judge what was deployed.

    Two findings: the policy rules over the realised resource graph (the same rule functions
    as the Pulumi policy pack), and the bundle booted under gunicorn passing verify's
    readiness, health, CORS and ML checks.
    """
    tmp = _own_check_folder(state_root)
    made: list[SandboxAdapter] = []

    def teardown() -> None:
        try:
            for engine in made:
                engine.destroy()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    try:
        engine = SandboxAdapter(config.stack, state_root=tmp)
        made.append(engine)
        outputs = engine.up(build_bundle_for(config))
        violations = evaluate(resources_from_sandbox(engine.resources()))
        outcome = verifier(only=LOCAL_CHECKS, engine=engine)(outputs, tmp / "report")
    except BaseException:
        teardown()  # interrupted or failed: gone before the exception goes on
        raise
    in_background(f"check sandbox {tmp.name}", teardown)
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


def _validate_overrides(config: RunConfig) -> StackConfig | None:
    """Bad --config values fail before any engine or CLI call, naming the key."""
    if not (config.project_dir / f"Pulumi.{config.stack}.yaml").is_file():
        return None  # make_engine names the missing stack file
    try:
        return config.parsed  # kept: the rest of the run reads this very parse
    except StackConfigError as exc:
        raise UsageError(str(exc).replace("\n", " "), "fix the --config values") from exc


def canary_plan(
    config: RunConfig, engine: Engine, *, time_scale: float = 1.0, human_review: bool = False
) -> CanaryPlan | None:
    """The run's canary plan from its config (None when the config does not parse: the check
    stage names the problem before anything is deployed)."""
    try:
        canary = config.parsed.canary
    except StackConfigError:
        return None
    return CanaryPlan.build(
        canary, sandbox=engine.name == "sandbox", time_scale=time_scale, human_review=human_review
    )


def team_notifier(config: RunConfig, engine: Engine) -> TeamNotifier | None:
    """The stack's `notifications` channels for `notifyOn` (None: none configured, or a config
    that does not parse: the check stage names that). An encrypted list is decrypted through
    the engine at the first message, never before: a run that sends nothing never asks."""
    try:
        parsed = config.parsed
    except StackConfigError:
        return None
    targets = parsed.notifications
    if not targets.urls and not targets.encrypted:
        return None

    def urls() -> list[str]:
        if not targets.encrypted:
            return list(targets.urls)
        decrypted = parse_notifications(engine.secret_config("notifications"))[0]
        return list(decrypted.urls) if decrypted else []

    return TeamNotifier(parsed.notify_on, urls)


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
    time_scale: float = 1.0,
    human_review: bool = False,
    **pipeline_kwargs: Any,
) -> Pipeline:
    """The pipeline for `stack` on the named engine (or on `engine`, built by the caller).

    The run's config (stack file + overrides) is one `RunConfig`, shared by the engine, the
    check stage and the bundle builder, so the file is read and validated once per command.
    """
    if engine is None:
        config = RunConfig(stack, config_overrides)
        if config.overrides:
            _validate_overrides(config)
        engine = make_engine(
            engine_name,
            stack,
            state_root=state_root,
            run_config=config,
            time_scale=time_scale,
            **dict(engine_options or {}),
        )
    else:
        config = RunConfig(stack, engine.config_overrides)
    return Pipeline(
        engine,
        verifier=verifier(only=verify_only, timeout=verify_timeout, engine=engine),
        checks=preflight_checks(
            config, state_root=state_root or engine.state_root, real=engine.name == "pulumi"
        ),
        bundle_builder=lambda: build_bundle_for(config),
        bundle_fetcher=lambda outputs, label: fetch_bundle(outputs, label, engine.aws_env),
        artifacts=lambda outputs: ArtifactBucket(outputs, engine.aws_env),
        record_store=record_store_for(engine),
        report_root=report_root or ROOT / "reports" / stack,
        project_dir=ROOT,
        canary=canary_plan(config, engine, time_scale=time_scale, human_review=human_review),
        notifier=team_notifier(config, engine),
        **pipeline_kwargs,
    )
