"""`python -m sandbox up|down|status|outputs|preview|history --stack <stack>`.

Exit codes: 0 ok; 1 the stack is not healthy / not deployed (status); 2 a clear error the
user can fix (unknown stack, port in use, moto not installed, model missing, invalid config,
app unhealthy) printed as one line without a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sandbox.errors import SandboxError

COMMANDS = ("up", "down", "status", "outputs", "preview", "history")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Run the Pulumi program on a local moto server with the app running locally.",
    )
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("--stack", required=True, help="dev, staging, prod (a Pulumi.<stack>.yaml)")
    parser.add_argument("--bundle", type=Path, help="deploy this prebuilt bundle zip (up/preview)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--moto-port", type=int, help="pin moto's port (default: per-stack, free)")
    parser.add_argument("--app-port", type=int, help="pin the app's stable port (api_url)")
    parser.add_argument(
        "--health-timeout", type=float, default=120.0, help="seconds a new app version may take"
    )
    parser.add_argument("--project-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--state-root", type=Path, help=argparse.SUPPRESS)
    return parser


def _engine(args: argparse.Namespace) -> Any:
    from sandbox.engine import ROOT, SandboxEngine
    from sandbox.program import available_stacks

    project = (args.project_dir or ROOT).resolve()
    engine = SandboxEngine(
        args.stack,
        project_dir=project,
        state_root=args.state_root,
        moto_port=args.moto_port,
        app_port=args.app_port,
        health_timeout=args.health_timeout,
        on_output=lambda line: print(line, file=sys.stderr, flush=True),
    )
    if args.stack not in available_stacks(project) and not engine.paths.dir.exists():
        known = ", ".join(available_stacks(project)) or "none"
        raise SandboxError(f"unknown stack '{args.stack}'; available: {known}")
    return engine


def _print_outputs(outputs: dict[str, Any]) -> None:
    width = max((len(k) for k in outputs), default=0)
    for key, value in outputs.items():
        shown = value if isinstance(value, str) else json.dumps(value)
        print(f"  {key.ljust(width)}  {shown}")


def _health_line(status: dict[str, Any]) -> str:
    health = status.get("health") or {}
    url = f"{status.get('app_url')}/health"
    if health.get("ok"):
        return f"health: OK (HTTP 200, version {health.get('version')}) {url}"
    code = health.get("status")
    return (
        f"health: FAILING ({f'HTTP {code}' if code else 'no answer'}: {health.get('detail')}) {url}"
    )


def run(args: argparse.Namespace) -> int:
    engine = _engine(args)
    if args.command == "up":
        outputs = engine.up(args.bundle)
        if args.json:
            print(json.dumps(outputs, indent=2))
        else:
            print(f"stack '{args.stack}' is up in the sandbox: {outputs.get('api_url')}")
            _print_outputs(outputs)
        return 0
    if args.command == "down":
        engine.destroy()
        print(f"stack '{args.stack}' is down: processes stopped, state removed", file=sys.stderr)
        return 0
    if args.command == "outputs":
        print(json.dumps(engine.outputs(), indent=2))
        return 0
    if args.command == "history":
        print(json.dumps(engine.history(), indent=2))
        return 0
    if args.command == "preview":
        summary = engine.preview(args.bundle)
        print(json.dumps(summary.to_dict(), indent=2) if args.json else summary.to_markdown())
        return 0
    status = engine.status()
    if args.json:
        print(json.dumps(status, indent=2, default=str))
    elif not status.get("deployed"):
        print(f"stack '{args.stack}' is not deployed in the sandbox")
    else:
        print(f"stack '{args.stack}' (sandbox, state {status['state_dir']})")
        _print_outputs(status.get("outputs") or {})
        print(f"app:  {status['app_url']}  (version {status['app_version']})")
        print(f"aws:  {status['aws_endpoint_url']}  (moto)")
        print(_health_line(status))
    return 0 if (status.get("health") or {}).get("ok") else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except SandboxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `... | head`
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
