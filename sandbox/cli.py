"""`python -m sandbox up|down|status|outputs|preview|history --stack <stack>`.

Exit codes are the shared table (commandline.exitcodes): 0 ok; 1 failed (an app version that
never got healthy, a stack that is not healthy in `status`); 2 input the user must fix
(unknown stack, bad config, port in use, moto or the model missing, not deployed), printed as
one line without a traceback; 130/143 interrupted, with every process the command started
stopped and the state naming what serves.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from commandline.console import Reporter, reporting
from commandline.exitcodes import ExitCode, epilog
from commandline.guard import guarded
from commandline.options import Json, LockTimeout, StateRoot, new_app, run_app
from commandline.stacks import available_stacks
from sandbox.engine import ROOT, SandboxEngine
from sandbox.errors import SandboxError, SandboxUsageError

PROG = "python -m sandbox"
app = new_app(
    "sandbox", "Run the Pulumi program on a local moto server with the app running locally."
)

SandboxStack = Annotated[
    str,
    typer.Option(
        "--stack",
        "-s",
        help="any stack with a Pulumi.<stack>.yaml (dev, staging, prod, …)",
        autocompletion=lambda incomplete: [
            s for s in available_stacks() if s.startswith(incomplete)
        ],
        show_default=False,
    ),
]
Bundle = Annotated[
    Path | None, typer.Option("--bundle", help="deploy this prebuilt bundle zip (app/ otherwise)")
]
ProjectDir = Annotated[Path | None, typer.Option("--project-dir", hidden=True)]


def _engine(
    stack: str,
    project_dir: Path | None,
    state_root: Path | None,
    reporter: Reporter,
    *,
    existing_ok: bool = False,
    **kwargs: Any,
) -> SandboxEngine:
    project = (project_dir or ROOT).resolve()
    engine = SandboxEngine(
        stack,
        project_dir=project,
        state_root=state_root,
        on_output=reporter.lines("sandbox", tagged=False),
        **kwargs,
    )
    known = available_stacks(project)
    if stack not in known and not (existing_ok and engine.paths.dir.exists()):
        raise SandboxUsageError(
            f"unknown stack '{stack}': no Pulumi.{stack}.yaml; available: "
            f"{', '.join(known) or 'none'}"
        )
    return engine


def _guarded(
    command: str, stack: str, body: Callable[[Reporter], int], *, as_json: bool = False
) -> int:
    """The shared CLI guard: signals → 130/143, input errors → 2, SandboxError → 1; one line.

    The engine's notes go through one reporter (human on a terminal, JSON lines elsewhere).
    """
    reporter = Reporter.for_output(as_json, stack=stack)
    with reporting(reporter):
        return guarded(
            command,
            lambda: body(reporter),
            errors=((SandboxUsageError, ExitCode.USAGE), (SandboxError, ExitCode.FAILED)),
            interrupted_note="; processes this command started are stopped",
        )


def _print_outputs(outputs: dict[str, Any]) -> None:
    width = max((len(k) for k in outputs), default=0)
    for key, value in outputs.items():
        shown = value if isinstance(value, str) else json.dumps(value)
        print(f"  {key.ljust(width)}  {shown}")


@app.command(epilog=epilog())
def up(
    stack: SandboxStack,
    bundle: Bundle = None,
    as_json: Json = False,
    moto_port: Annotated[int | None, typer.Option(help="pin moto's port")] = None,
    app_port: Annotated[int | None, typer.Option(help="pin the app's stable port")] = None,
    health_timeout: Annotated[
        float, typer.Option(help="seconds a new app version may take to get healthy", min=1)
    ] = 120.0,
    lock_timeout: LockTimeout = 600.0,
    project_dir: ProjectDir = None,
    state_root: StateRoot = None,
    https: Annotated[
        bool,
        typer.Option(
            "--https",
            help="sandbox only: deploy with a stand-in ACM certificate (certificateArn) for "
            "publicBaseUrl's host; the load balancer then serves HTTPS",
        ),
    ] = False,
    certificate_host: Annotated[
        str | None,
        typer.Option(
            "--certificate-host",
            metavar="HOST",
            help="with --https: the host the stand-in certificate is for (another host than "
            "publicBaseUrl's shows what verify says about a wrong certificate)",
        ),
    ] = None,
) -> int:
    """Deploy the stack (blue/green for the app); idempotent.

    Example: python -m sandbox up --stack dev --bundle build/bundles/v-0123456789ab.zip
    """

    def body(reporter: Reporter) -> int:
        engine = _engine(
            stack,
            project_dir,
            state_root,
            reporter,
            moto_port=moto_port,
            app_port=app_port,
            health_timeout=health_timeout,
            lock_timeout=lock_timeout,
            https=https,
            certificate_host=certificate_host,
        )
        outputs = engine.up(bundle)
        if as_json:
            print(json.dumps(outputs, indent=2))
        else:
            print(f"stack '{stack}' is up in the sandbox: {outputs.get('api_url')}")
            _print_outputs(outputs)
        return ExitCode.OK

    return _guarded("up", stack, body, as_json=as_json)


@app.command(epilog=epilog())
def down(
    stack: SandboxStack,
    lock_timeout: LockTimeout = 600.0,
    project_dir: ProjectDir = None,
    state_root: StateRoot = None,
) -> int:
    """Stop every process of the stack and remove its state; its history is kept.

    Example: python -m sandbox down --stack dev
    """

    def body(reporter: Reporter) -> int:
        engine = _engine(
            stack, project_dir, state_root, reporter, existing_ok=True, lock_timeout=lock_timeout
        )
        engine.destroy()
        reporter.say(
            "sandbox",
            f"stack '{stack}' is down: processes stopped, state removed (deployment history kept)",
            tagged=False,
        )
        return ExitCode.OK

    return _guarded("down", stack, body)


@app.command(epilog=epilog())
def status(
    stack: SandboxStack,
    as_json: Json = False,
    project_dir: ProjectDir = None,
    state_root: StateRoot = None,
) -> int:
    """Is every part alive: moto, the proxy, every app instance, and /health?deep=1.

    Exit 0 only when all are; 1 otherwise (or not deployed).

    Example: python -m sandbox status --stack dev
    """

    def body(reporter: Reporter) -> int:
        engine = _engine(stack, project_dir, state_root, reporter, existing_ok=True)
        state = engine.status()
        if as_json:
            print(json.dumps(state, indent=2, default=str))
        elif not state.get("deployed"):
            print(f"stack '{stack}' is not deployed in the sandbox")
        else:
            print(f"stack '{stack}' (sandbox, state {state['state_dir']})")
            _print_outputs(state.get("outputs") or {})
            print(f"app:  {state['app_url']}  (version {state['app_version']})")
            print(f"aws:  {state['aws_endpoint_url']}  (moto)")
            for name in ("moto", "proxy", "app"):
                proc = state.get(name) or {}
                alive = "running" if proc.get("alive") else "NOT RUNNING"
                print(f"{name}: {alive} (pid {proc.get('pid')}, port {proc.get('port')})")
            print(_health_line(state))
            for problem in state.get("problems", []):
                print(f"problem: {problem}")
        return ExitCode.OK if state.get("ok") else ExitCode.FAILED

    return _guarded("status", stack, body, as_json=as_json)


def _health_line(state: dict[str, Any]) -> str:
    health = state.get("health") or {}
    url = f"{state.get('app_url')}/health?deep=1"
    if health.get("ok"):
        return f"health: OK (HTTP 200, version {health.get('version')}) {url}"
    code = health.get("status")
    return (
        f"health: FAILING ({f'HTTP {code}' if code else 'no answer'}: {health.get('detail')}) {url}"
    )


@app.command(epilog=epilog())
def outputs(
    stack: SandboxStack, project_dir: ProjectDir = None, state_root: StateRoot = None
) -> int:
    """The stack outputs (`pulumi stack output --json` shape).

    Example: python -m sandbox outputs --stack dev
    """

    def body(reporter: Reporter) -> int:
        print(json.dumps(_engine(stack, project_dir, state_root, reporter).outputs(), indent=2))
        return ExitCode.OK

    return _guarded("outputs", stack, body)


@app.command(epilog=epilog())
def preview(
    stack: SandboxStack,
    bundle: Bundle = None,
    as_json: Json = False,
    project_dir: ProjectDir = None,
    state_root: StateRoot = None,
) -> int:
    """What `up` would change, per resource, against the state the sandbox keeps.

    Example: python -m sandbox preview --stack dev --json
    """

    def body(reporter: Reporter) -> int:
        summary = _engine(stack, project_dir, state_root, reporter).preview(bundle)
        print(json.dumps(summary.to_dict(), indent=2) if as_json else summary.to_markdown())
        return ExitCode.OK

    return _guarded("preview", stack, body, as_json=as_json)


@app.command(epilog=epilog())
def history(
    stack: SandboxStack,
    project_dir: ProjectDir = None,
    state_root: StateRoot = None,
) -> int:
    """Every deployment, newest first, including those before a `down`.

    Example: python -m sandbox history --stack dev
    """

    def body(reporter: Reporter) -> int:
        engine = _engine(stack, project_dir, state_root, reporter, existing_ok=True)
        print(json.dumps(engine.history(), indent=2))
        return ExitCode.OK

    return _guarded("history", stack, body)


def main(argv: list[str] | None = None) -> int:
    return run_app(app, PROG, argv)
