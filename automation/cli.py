"""`python -m automation <command> --stack S [--engine sandbox|pulumi]`.

Exit codes (see pipeline.ExitCode): 0 ok, 1 failed (nothing changed), 2 usage or input error,
3 failed and rolled back to the last verified version, 4 failed and not recovered,
5 deployed but verification is blocked on a named manual step (e.g. SES identity pending).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from components.config import PROJECT

from .errors import PipelineError
from .pipeline import ExitCode, PipelineResult, publish
from .wiring import ENGINES, STACKS, build_pipeline

COMMANDS = ("check", "preview", "up", "verify", "rollback", "history", "outputs", "destroy", "run")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m automation", description=__doc__)
    p.add_argument("command", choices=COMMANDS)
    p.add_argument("--stack", required=True, choices=STACKS)
    p.add_argument("--engine", default="sandbox", choices=ENGINES)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--report-dir", type=Path, help="where verify reports go (reports/<stack>)")
    p.add_argument("--to", metavar="VERSION", help="rollback: the app version to roll back to")
    p.add_argument("--markdown", type=Path, help="preview: write the PR-comment Markdown here")
    p.add_argument("--only", nargs="+", metavar="CHECK", help="verify: run only these checks")
    p.add_argument("--verify-timeout", type=float, help="verify: bound on the whole run (s)")
    p.add_argument(
        "--confirm",
        metavar="STACK",
        help="destroy: repeat the stack name; required for prod, which holds customer data",
    )
    p.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="pulumi engine: override a stack config value for this run (repeatable), "
        "e.g. passport-photo-backend:maxInstances=4",
    )
    # -- real path (issue 10): policy pack and secrets provider for --engine pulumi --
    p.add_argument(
        "--no-policy-pack",
        dest="policy_pack",
        action="store_false",
        help="pulumi engine: do not run the policy pack on preview/up (it runs by default)",
    )
    p.add_argument(
        "--secrets-provider",
        metavar="PROVIDER",
        help="pulumi engine: secrets provider of a new stack (passphrase, awskms://..., "
        "default: the backend's); passphrase needs PULUMI_CONFIG_PASSPHRASE",
    )
    p.add_argument("--state-root", type=Path, help=argparse.SUPPRESS)  # tests: sandbox state
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for chatty in ("botocore", "boto3", "urllib3"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    args = parser().parse_args(argv)
    try:
        return _dispatch(args)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.FAILED


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "destroy" and args.stack == "prod" and args.confirm != "prod":
        print(
            "error: refusing to destroy prod: it holds customer data. "
            "Re-run with --confirm prod if you really mean it.",
            file=sys.stderr,
        )
        return ExitCode.USAGE
    overrides = {}
    for item in args.config:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"error: --config expects KEY=VALUE, got {item!r}", file=sys.stderr)
            return ExitCode.USAGE
        overrides[key if ":" in key else f"{PROJECT}:{key}"] = value
    pipeline = build_pipeline(
        args.stack,
        args.engine,
        config_overrides=overrides,
        report_root=args.report_dir,
        state_root=args.state_root,
        verify_only=args.only,
        verify_timeout=args.verify_timeout,
        engine_options={"policy_pack": args.policy_pack, "secrets_provider": args.secrets_provider},
    )
    engine = pipeline.engine
    result: PipelineResult
    if args.command == "run":
        result = pipeline.run()
    elif args.command == "check":
        result = pipeline.check()
    elif args.command == "preview":
        summary, result = pipeline.preview()
        markdown = summary.to_markdown()
        if args.markdown:
            args.markdown.parent.mkdir(parents=True, exist_ok=True)
            args.markdown.write_text(markdown, encoding="utf-8")
        if not args.json:
            print(markdown)
    elif args.command == "up":
        _, result = pipeline.up()
    elif args.command == "verify":
        outputs = engine.outputs()
        outcome = pipeline.verify(outputs)
        result = pipeline.new_result("verify")
        result.app_version, result.api_url = outputs.get("app_version"), outputs.get("api_url")
        result.verify = outcome.summary
        result.report_dir = str(outcome.report_dir)
        if not outcome.passed:
            result.status, result.exit_code = "failed", ExitCode.FAILED
            if outcome.blocked:  # only a named manual step is outstanding (exit 5)
                result.status, result.exit_code = "blocked", ExitCode.BLOCKED
        result.message = f"report: {outcome.report_dir}"
        result = pipeline.finish(result)
    elif args.command == "rollback":
        result = pipeline.rollback(args.to)
    elif args.command in ("history", "outputs"):
        return _print_data(args, pipeline)
    else:  # destroy
        engine.destroy()
        result = pipeline.new_result("destroy")
        result.message = f"stack {args.stack} destroyed"
    publish(result, as_json=args.json)
    return int(result.exit_code)


def _print_data(args: argparse.Namespace, pipeline: Any) -> int:
    engine = pipeline.engine
    if args.command == "outputs":
        data: Any = engine.outputs()
    else:
        outputs = engine.outputs()
        store = pipeline.record_store(outputs)
        data = {
            "deployments": [r.to_dict() for r in store.list()] if store else [],
            "engine_history": engine.history(),
        }
    print(json.dumps(data, indent=2, default=str))
    return ExitCode.OK
