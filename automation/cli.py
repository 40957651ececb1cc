"""`python -m automation <command> --stack S [--engine sandbox|pulumi]`: the pipeline's CLI.

One subcommand per pipeline verb, each with its own options and an example in its `--help`.
The exit codes are the shared table in `commandline.exitcodes`. SIGINT/SIGTERM stop what the
command started, mark the deployment record `interrupted`, log it and exit 130/143.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from commandline.console import Reporter, reporting
from commandline.exitcodes import epilog
from commandline.guard import guarded
from commandline.interrupts import Interrupted
from commandline.options import (
    Engine,
    EngineName,
    Json,
    LockTimeout,
    Only,
    ReportDir,
    Stack,
    StateRoot,
    new_app,
    run_app,
    split_names,
)
from commandline.stacks import StackFileError, UnknownStackError, read_stack_file
from components.config import (
    ENVIRONMENT_KEY,
    ENVIRONMENTS,
    PROJECT,
    StackConfigError,
    parse_stack_config,
    stack_tier,
)
from verify import progress as verify_progress

from .delivery import (
    DEFAULT_SINCE,
    delivery_data,
    delivery_text,
    parse_since,
    refresh_delivery,
    write_delivery,
)
from .drift import announce_drift, drift_json, drift_status, drift_text
from .errors import PipelineError, UsageError
from .fourkeys import DEFAULT_MIN_SAMPLES
from .history import history_data, print_history
from .pipeline import ExitCode, Pipeline, PipelineResult, publish
from .records import ArchivedRecordStore, reap_stale
from .status import RunStatus, StageStatus
from .wiring import DEFAULT_STATE_ROOT, build_pipeline, clean_orphan_checks

PROG = "python -m automation"
app = new_app(
    "automation",
    "The verified deployment pipeline: check → preview → up → verify → rollback.",
)

VerifyTimeout = Annotated[
    float | None, typer.Option("--verify-timeout", help="bound on the verify stage (s)", min=1)
]
PolicyPack = Annotated[
    bool,
    typer.Option(
        "--policy-pack/--no-policy-pack",
        help="pulumi engine: run the policy pack (policy/) on preview and up; on by default",
    ),
]
SecretsProvider = Annotated[
    str | None,
    typer.Option(
        "--secrets-provider",
        metavar="PROVIDER",
        help="pulumi engine: secrets provider of a new stack (passphrase, awskms://…; default: "
        "the backend's); passphrase needs PULUMI_CONFIG_PASSPHRASE",
    ),
]
TimeScale = Annotated[
    float,
    typer.Option(
        "--time-scale",
        metavar="F",
        min=1.0,
        help="sandbox only: play the canary's evaluation and bake windows (and CloudWatch's "
        "alarm periods) F times faster; refused with --engine pulumi",
    ),
]
HumanReview = Annotated[
    bool,
    typer.Option(
        "--human-review/--no-human-review",
        envvar="CANARY_HUMAN_REVIEW",
        help="a marginal or inconclusive canary is promoted and waits for a human (exit 6; the "
        "`production` environment's reviewers) instead of being aborted (fail safe)",
    ),
]
ConfigOverrides = Annotated[
    list[str] | None,
    typer.Option(
        "--config",
        metavar="KEY=VALUE",
        help="pulumi engine: override a stack config value for this run (repeatable), "
        "e.g. maxInstances=4",
    ),
]


class Session:
    """What every command shares: output mode, the pipeline, stale-state cleanup, signals."""

    def __init__(
        self,
        command: str,
        stack: str,
        engine: EngineName,
        *,
        as_json: bool,
        reporter: Reporter,
        report_dir: Path | None = None,
        state_root: Path | None = None,
        lock_timeout: float = 600.0,
        only: list[str] | None = None,
        verify_timeout: float | None = None,
        config: list[str] | None = None,
        policy_pack: bool = True,
        secrets_provider: str | None = None,
        time_scale: float = 1.0,
        human_review: bool = False,
    ) -> None:
        self.command, self.stack, self.as_json = command, stack, as_json
        self.reporter = reporter
        overrides = {}
        for item in config or []:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise UsageError(f"--config expects KEY=VALUE, got {item!r}")
            overrides[key if ":" in key else f"{PROJECT}:{key}"] = value
        self.state_root = state_root
        self.pipeline: Pipeline = build_pipeline(
            stack,
            engine.value,
            config_overrides=overrides,
            report_root=report_dir,
            state_root=state_root,
            verify_only=split_names(only),
            verify_timeout=verify_timeout,
            renderer=reporter.event,
            lock_timeout_s=lock_timeout,
            time_scale=time_scale,
            human_review=human_review,
            engine_options={
                "policy_pack": policy_pack,
                "secrets_provider": secrets_provider,
                # the Pulumi CLI's progress: the reporter's lines on stderr, never stdout
                "on_output": reporter.lines("pulumi", tagged=False),
            },
        )

    def say(self, line: str) -> None:
        """A note for the operator (what was cleaned): a progress line or a JSON line."""
        self.pipeline.log.event(self.command, StageStatus.NOTE, detail=line)

    def clean_stale(self) -> None:
        """Whatever a killed run (SIGKILL, a lost runner) left behind, cleaned and said."""
        for line in clean_orphan_checks(self.state_root or DEFAULT_STATE_ROOT):
            self.say(line)
        engine = self.pipeline.engine
        if engine.records_path is not None:
            store = self.pipeline.record_store({})
            for record in reap_stale(store) if store else []:
                self.say(
                    f"marked deployment {record.id} ({record.app_version}) interrupted: "
                    f"its run (pid {record.pid}) is gone"
                )


def _session_run(
    command: str,
    stack: str,
    engine: EngineName,
    body: Callable[[Session], PipelineResult | int],
    *,
    as_json: bool,
    before: Callable[[], None] | None = None,
    **kwargs: Any,
) -> int:
    """Build the session, run `body` under the CLI guard, publish and return the exit code.

    `before` runs first, before any engine is built (a refusal that must touch nothing).

    One reporter for the whole command: stage events, verify's progress, the Pulumi CLI's
    output and warnings all reach stderr through it (human lines or JSON lines); stdout gets
    only the result.
    """
    reporter = Reporter.for_output(as_json, stack=stack, engine=engine.value)
    held: dict[str, Session] = {}

    def work() -> PipelineResult | int:
        if before is not None:
            before()
        session = held["session"] = Session(
            command, stack, engine, as_json=as_json, reporter=reporter, **kwargs
        )
        session.clean_stale()
        outcome = body(session)
        for line in session.pipeline.engine.cleaned:
            session.say(line)
        return outcome

    def finish(outcome: PipelineResult | int) -> int:
        reporter.close()  # the spinner stops before the summary
        if isinstance(outcome, int):
            return outcome
        publish(outcome, as_json=as_json)
        return int(outcome.exit_code)

    with reporting(reporter), verify_progress.routed_to(reporter.lines("verify")):
        return guarded(
            command,
            work,
            errors=((UsageError, ExitCode.USAGE), (PipelineError, ExitCode.FAILED)),
            finish=finish,
            on_error=lambda exc: _error(held.get("session"), exc),
            on_interrupt=lambda exc: _interrupted(held.get("session"), command, exc),
        )


def _error(session: Session | None, exc: BaseException) -> None:
    if session is not None:
        session.pipeline.log.event(session.command, StageStatus.FAILED, detail=str(exc))
    print(f"error: {exc}", file=sys.stderr)


def _interrupted(session: Session | None, command: str, exc: Interrupted) -> int:
    """One line, a truthful audit record, the signal's exit code; never a traceback."""
    if session is None:
        print(f"{command}: {exc}", file=sys.stderr)
        return exc.exit_code
    pipeline = session.pipeline
    result = pipeline.interrupted(pipeline.new_result(command), exc)
    pipeline.log.event(command, "interrupted", exit=int(exc.exit_code), detail=result.message)
    publish(result, as_json=session.as_json)
    return exc.exit_code


def _refreshed(session: Session, result: PipelineResult) -> PipelineResult:
    """A deployment's run ends with the index page's delivery figures brought up to date."""
    refresh_delivery(session.pipeline)
    return result


# -- commands ---------------------------------------------------------------------------------


@app.command(epilog=epilog())
def run(
    stack: Stack,
    engine: Engine = EngineName.sandbox,
    as_json: Json = False,
    report_dir: ReportDir = None,
    only: Only = None,
    verify_timeout: VerifyTimeout = None,
    config: ConfigOverrides = None,
    lock_timeout: LockTimeout = 600.0,
    policy_pack: PolicyPack = True,
    secrets_provider: SecretsProvider = None,
    state_root: StateRoot = None,
    time_scale: TimeScale = 1.0,
    human_review: HumanReview = False,
) -> int:
    """The whole pipeline: check → preview → up (canary) → verify → bake, rollback on failure.

    Example: python -m automation run --stack staging --engine pulumi
    """
    return _session_run(
        "run",
        stack,
        engine,
        lambda s: _refreshed(s, s.pipeline.run()),
        as_json=as_json,
        report_dir=report_dir,
        state_root=state_root,
        only=only,
        verify_timeout=verify_timeout,
        config=config,
        lock_timeout=lock_timeout,
        policy_pack=policy_pack,
        secrets_provider=secrets_provider,
        time_scale=time_scale,
        human_review=human_review,
    )


@app.command(epilog=epilog())
def check(
    stack: Stack,
    engine: Engine = EngineName.sandbox,
    as_json: Json = False,
    report_dir: ReportDir = None,
    state_root: StateRoot = None,
) -> int:
    """Pre-deployment validation only (requirements, model, config, bundle, local boot).

    Example: python -m automation check --stack staging
    """
    return _session_run(
        "check",
        stack,
        engine,
        lambda s: s.pipeline.check(),
        as_json=as_json,
        report_dir=report_dir,
        state_root=state_root,
    )


@app.command(epilog=epilog())
def preview(
    stack: Stack,
    engine: Engine = EngineName.sandbox,
    as_json: Json = False,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="write the PR-comment Markdown here")
    ] = None,
    config: ConfigOverrides = None,
    report_dir: ReportDir = None,
    lock_timeout: LockTimeout = 600.0,
    policy_pack: PolicyPack = True,
    secrets_provider: SecretsProvider = None,
    state_root: StateRoot = None,
) -> int:
    """What an `up` would change, per resource (Markdown for a PR comment).

    Example: python -m automation preview --stack staging --engine pulumi --markdown preview.md
    """

    def body(s: Session) -> PipelineResult:
        summary, result = s.pipeline.preview()
        text = summary.to_markdown()
        if markdown:
            markdown.parent.mkdir(parents=True, exist_ok=True)
            markdown.write_text(text, encoding="utf-8")
        if not as_json:
            print(text)
        return result

    return _session_run(
        "preview",
        stack,
        engine,
        body,
        as_json=as_json,
        report_dir=report_dir,
        state_root=state_root,
        config=config,
        lock_timeout=lock_timeout,
        policy_pack=policy_pack,
        secrets_provider=secrets_provider,
    )


@app.command(epilog=epilog())
def up(
    stack: Stack,
    engine: Engine = EngineName.sandbox,
    as_json: Json = False,
    config: ConfigOverrides = None,
    report_dir: ReportDir = None,
    lock_timeout: LockTimeout = 600.0,
    policy_pack: PolicyPack = True,
    secrets_provider: SecretsProvider = None,
    state_root: StateRoot = None,
    time_scale: TimeScale = 1.0,
    human_review: HumanReview = False,
) -> int:
    """Build the bundle and deploy it, canary-judged where the stack says (no verify, no
    rollback: `run` does those; an aborted canary exits 3).

    Example: python -m automation up --stack dev
    """
    return _session_run(
        "up",
        stack,
        engine,
        lambda s: s.pipeline.deploy(),
        as_json=as_json,
        report_dir=report_dir,
        state_root=state_root,
        config=config,
        lock_timeout=lock_timeout,
        policy_pack=policy_pack,
        secrets_provider=secrets_provider,
        time_scale=time_scale,
        human_review=human_review,
    )


@app.command(epilog=epilog())
def verify(
    stack: Stack,
    engine: Engine = EngineName.sandbox,
    as_json: Json = False,
    report_dir: ReportDir = None,
    only: Only = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="bound on the whole verify run (s)", min=1)
    ] = None,
    state_root: StateRoot = None,
) -> int:
    """Run verify/ against the stack's current outputs.

    Example: python -m automation verify --stack dev --only health,ml
    """

    def body(s: Session) -> PipelineResult:
        pipeline = s.pipeline
        outputs = pipeline.engine.outputs()
        outcome = pipeline.verify(outputs)
        result = pipeline.new_result("verify")
        result.app_version, result.api_url = outputs.get("app_version"), outputs.get("api_url")
        result.verify = outcome.summary
        result.report_dir = str(outcome.report_dir)
        if not outcome.passed:
            # only a named manual step outstanding (blocked) is not a failure
            result.status = RunStatus.BLOCKED if outcome.blocked else RunStatus.FAILED
        result.message = f"report: {outcome.report_dir}"
        if not only:  # the full default set: what `run` verifies
            promoted = pipeline.promote(outputs, outcome)
            if promoted:
                result.deployment_id = promoted
                result.message += f"; deployment {promoted} of {result.app_version} is verified"
        return pipeline.finish(result)

    return _session_run(
        "verify",
        stack,
        engine,
        body,
        as_json=as_json,
        report_dir=report_dir,
        state_root=state_root,
        only=only,
        verify_timeout=timeout,
    )


@app.command(epilog=epilog())
def rollback(
    stack: Stack,
    engine: Engine = EngineName.sandbox,
    to: Annotated[
        str | None,
        typer.Option("--to", metavar="VERSION", help="the app version (default: last verified)"),
    ] = None,
    as_json: Json = False,
    report_dir: ReportDir = None,
    only: Only = None,
    verify_timeout: VerifyTimeout = None,
    lock_timeout: LockTimeout = 600.0,
    policy_pack: PolicyPack = True,
    secrets_provider: SecretsProvider = None,
    state_root: StateRoot = None,
) -> int:
    """Roll forward to the last verified version (or --to VERSION), then verify it.

    Example: python -m automation rollback --stack prod --engine pulumi --to v-0123456789ab
    """
    return _session_run(
        "rollback",
        stack,
        engine,
        lambda s: s.pipeline.rollback(to),
        as_json=as_json,
        report_dir=report_dir,
        state_root=state_root,
        only=only,
        verify_timeout=verify_timeout,
        lock_timeout=lock_timeout,
        policy_pack=policy_pack,
        secrets_provider=secrets_provider,
    )


@app.command(epilog=epilog())
def promote(
    from_stack: Annotated[
        str,
        typer.Option("--from", metavar="STACK", help="the stack that verified the artifact"),
    ],
    to_stack: Annotated[
        str, typer.Option("--to", metavar="STACK", help="the stack to deploy it to")
    ],
    engine: Engine = EngineName.sandbox,
    label: Annotated[
        str | None,
        typer.Option(
            "--label", metavar="VERSION", help="the app version (default: newest verified)"
        ),
    ] = None,
    fetch_only: Annotated[
        Path | None,
        typer.Option(
            "--fetch-only",
            metavar="DIR",
            help="run the refusals, save the checked bundle in DIR, deploy nothing",
        ),
    ] = None,
    as_json: Json = False,
    report_dir: ReportDir = None,
    only: Only = None,
    verify_timeout: VerifyTimeout = None,
    lock_timeout: LockTimeout = 600.0,
    policy_pack: PolicyPack = True,
    secrets_provider: SecretsProvider = None,
    state_root: StateRoot = None,
) -> int:
    """Deploy to --to the very bundle --from verified (same sha256, never a rebuild), verify it.

    A label that was not verified on --from is refused (exit 2); a bundle whose bytes in the
    artifact bucket differ from its record is refused (exit 1); nothing is deployed then.

    Example: python -m automation promote --from staging --to prod --engine pulumi
    """
    if from_stack == to_stack:
        raise typer.BadParameter("--from and --to name the same stack", param_hint="--to")

    def body(s: Session) -> PipelineResult:
        source = build_pipeline(
            from_stack,
            engine.value,
            state_root=state_root,
            renderer=s.reporter.event,
            run_id=s.pipeline.run_id,
            report_root=s.pipeline.report_root.parent / from_stack,
        )
        return _refreshed(s, s.pipeline.promote_from(source, label, fetch_only=fetch_only))

    return _session_run(
        "promote",
        to_stack,
        engine,
        body,
        as_json=as_json,
        report_dir=report_dir,
        state_root=state_root,
        only=only,
        verify_timeout=verify_timeout,
        lock_timeout=lock_timeout,
        policy_pack=policy_pack,
        secrets_provider=secrets_provider,
    )


@app.command(epilog=epilog())
def history(
    stack: Stack,
    engine: Engine = EngineName.sandbox,
    as_json: Json = False,
    report_dir: ReportDir = None,
    state_root: StateRoot = None,
) -> int:
    """Deployment records (kept after down/destroy) and the engine's own history.

    Example: python -m automation history --stack dev --json
    """

    def body(s: Session) -> int:
        data = history_data(s.pipeline)
        if as_json:
            print(json.dumps(data, indent=2, default=str))
        else:
            print_history(data)
        return ExitCode.OK

    return _session_run(
        "history",
        stack,
        engine,
        body,
        as_json=as_json,
        report_dir=report_dir,
        state_root=state_root,
    )


@app.command(epilog=epilog())
def drift(
    stack: Stack,
    engine: Engine = EngineName.sandbox,
    as_json: Json = False,
    state_root: StateRoot = None,
) -> int:
    """Compare what the stack declares with what AWS holds; exit 1 naming each drifted
    resource and property (the Pulumi engine: `refresh --preview-only`; changes nothing).

    Example: python -m automation drift --stack prod --engine pulumi --json
    """

    def body(s: Session) -> int:
        report = s.pipeline.engine.drift()
        print(drift_json(stack, report) if as_json else drift_text(stack, report))
        announce_drift(s.pipeline, report)
        return int(drift_status(report).exit_code)

    return _session_run("drift", stack, engine, body, as_json=as_json, state_root=state_root)


@app.command(epilog=epilog())
def metrics(
    stack: Stack,
    engine: Engine = EngineName.sandbox,
    since: Annotated[
        str, typer.Option("--since", metavar="SPAN", help="the window: 48h, 30d, 12w")
    ] = DEFAULT_SINCE,
    min_samples: Annotated[
        int,
        typer.Option("--min-samples", min=1, help="records a figure needs; fewer say 'too few'"),
    ] = DEFAULT_MIN_SAMPLES,
    as_json: Json = False,
    report_dir: ReportDir = None,
    state_root: StateRoot = None,
) -> int:
    """The four keys (deployment frequency, lead time, change failure rate, time to restore)
    from the deployment records, and pipeline health from the run folders; also shown on
    reports/<stack>/index.html.

    Example: python -m automation metrics --stack staging --since 30d --json
    """

    def body(s: Session) -> int:
        data = delivery_data(s.pipeline, since=since, min_samples=min_samples)
        write_delivery(s.pipeline.report_root, stack, data)
        print(json.dumps(data, indent=2, default=str) if as_json else delivery_text(data))
        return ExitCode.OK

    return _session_run(
        "metrics",
        stack,
        engine,
        body,
        before=lambda: parse_since(since) and None,  # a bad window: exit 2, nothing built
        as_json=as_json,
        report_dir=report_dir,
        state_root=state_root,
    )


@app.command(epilog=epilog())
def outputs(
    stack: Stack,
    engine: Engine = EngineName.sandbox,
    state_root: StateRoot = None,
) -> int:
    """The stack outputs as JSON (`pulumi stack output --json` shape).

    Example: python -m automation outputs --stack dev
    """

    def body(s: Session) -> int:
        print(json.dumps(s.pipeline.engine.outputs(), indent=2, default=str))
        return ExitCode.OK

    return _session_run("outputs", stack, engine, body, as_json=True, state_root=state_root)


@app.command(epilog=epilog())
def destroy(
    stack: Stack,
    engine: Engine = EngineName.sandbox,
    confirm: Annotated[
        str | None,
        typer.Option(
            "--confirm",
            metavar="STACK",
            help="repeat the stack name; required where environment is prod (customer data)",
        ),
    ] = None,
    as_json: Json = False,
    lock_timeout: LockTimeout = 600.0,
    state_root: StateRoot = None,
) -> int:
    """Delete the stack's resources; its deployment records are kept (history continues).

    Example: python -m automation destroy --stack prod --engine pulumi --confirm prod
    """

    def confirmed() -> None:
        """Before any engine is built: a prod environment is destroyed only on purpose."""
        if stack_environment(stack) == "prod" and confirm != stack:
            raise UsageError(
                f"refusing to destroy {stack}: its environment is prod (Pulumi.{stack}.yaml), "
                f"which holds customer data. Re-run with --confirm {stack} if you really mean it."
            )

    def body(s: Session) -> PipelineResult:
        pipeline = s.pipeline
        engine = pipeline.engine
        kept = _export_records(pipeline)
        # `pulumi destroy` refuses protected resources by itself; the sandbox is asked to, as
        # its plain teardown (`sandbox down`, throwaway check stacks) is unconditional.
        pipeline.retrying("destroy", lambda: engine.destroy(honour_protection=True))
        result = pipeline.new_result("destroy")
        result.message = f"stack {stack} destroyed; {kept} deployment records kept for history"
        return pipeline.finish(result)

    return _session_run(
        "destroy",
        stack,
        engine,
        body,
        as_json=as_json,
        before=confirmed,
        state_root=state_root,
        lock_timeout=lock_timeout,
    )


def stack_environment(stack: str) -> str:
    """The stack's rule set (dev, staging, prod) from its `environment` key, never its name.

    What the config docs promise: a copy of Pulumi.prod.yaml under another name is prod. A
    config that does not parse still answers as the parser would (the key when it is valid,
    else what the name suggests), so a broken file never makes a prod stack look safe.
    """
    try:
        raw = read_stack_file(stack)
    except (UnknownStackError, StackFileError) as exc:
        raise UsageError(str(exc)) from exc
    try:
        return parse_stack_config(stack, raw).environment
    except StackConfigError:
        value = raw.get(f"{PROJECT}:{ENVIRONMENT_KEY}", raw.get(ENVIRONMENT_KEY))
        return str(value) if value in ENVIRONMENTS else stack_tier(stack)


def _export_records(pipeline: Pipeline) -> int:
    """Records that would go with the stack (a real stack's artifact bucket) are exported."""
    outputs = pipeline.safe_outputs()
    store = pipeline.record_store(outputs)
    if isinstance(store, ArchivedRecordStore):
        return store.export()
    return len(store.list()) if store else 0


def main(argv: list[str] | None = None) -> int:
    for chatty in ("botocore", "boto3", "urllib3"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    return run_app(app, PROG, argv)
