"""Stack outputs: where they come from (file, sandbox state, Pulumi CLI) and what must be in them.

Verify reads nothing else about the deployment, so a missing or mistyped output is an input
error (exit 2) named here, before any check runs, rather than a confusing failure later.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3

from common.contracts import OUTPUTS, SANDBOX_AWS_ENV
from common.jsonfile import CorruptJSONError, read_json
from common.paths import ROOT, StackPaths, stack_paths
from verify.checks import all_checks
from verify.transport import Transport

SECRET_PLACEHOLDER = "[secret]"  # what `pulumi stack output --json` prints without --show-secrets
_MISSING = object()


class OutputsError(Exception):
    """Bad or missing input: the CLI prints it and exits 2."""


def validate(outputs: Any, required: Iterable[str]) -> dict[str, Any]:
    """Check presence and type of the keys the selected checks need; all problems at once."""
    if not isinstance(outputs, dict):
        raise OutputsError(f"stack outputs must be a JSON object, got {type(outputs).__name__}")
    problems: list[str] = []
    for key in sorted(set(required)):
        if key not in outputs:
            problems.append(f"missing output {key!r}")
            continue
        value = outputs[key]
        if value == SECRET_PLACEHOLDER:
            problems.append(f"output {key!r} is a secret; verify never reads secret outputs")
            continue
        expected = OUTPUTS.get(key)
        if expected is int and isinstance(value, bool):
            problems.append(f"output {key!r} must be an integer, got {value!r}")
        elif expected and not isinstance(value, expected):
            name = getattr(expected, "__name__", str(expected))
            problems.append(f"output {key!r} must be {name}, got {type(value).__name__} {value!r}")
        elif isinstance(value, str) and not value.strip():
            problems.append(f"output {key!r} is empty")
    if "api_url" in outputs and isinstance(outputs["api_url"], str):
        parsed = urlparse(outputs["api_url"])
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            problems.append(f"output 'api_url' must be an http(s) URL, got {outputs['api_url']!r}")
    origins = outputs.get("cors_allowed_origins")
    if isinstance(origins, list) and not all(isinstance(o, str) for o in origins):
        problems.append(f"output 'cors_allowed_origins' must be a list of strings, got {origins!r}")
    for key in ("latency_budget_ms", "max_upload_mb"):
        value = outputs.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value <= 0:
            problems.append(f"output {key!r} must be positive, got {value}")
    if problems:
        raise OutputsError("invalid stack outputs: " + "; ".join(problems))
    return outputs


def load_file(path: Path) -> dict[str, Any]:
    """A JSON object from `path`; OutputsError naming the file when it is missing or not one."""
    try:
        data = read_json(path, default=_MISSING)
    except CorruptJSONError as exc:
        raise OutputsError(f"outputs file {path} is not valid JSON: {exc.cause}") from exc
    except OSError as exc:
        raise OutputsError(f"cannot read outputs file {path}: {exc.strerror or exc}") from exc
    if data is _MISSING:
        raise OutputsError(f"cannot read outputs file {path}: {os.strerror(errno.ENOENT)}")
    if not isinstance(data, dict):
        raise OutputsError(
            f"outputs file {path} must hold a JSON object, got {type(data).__name__}"
        )
    return data


def load_sandbox(
    stack: str, state_root: Path | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Outputs plus the environment that points boto3 at the stack's moto server.

    Returns the env rather than setting it so the caller decides the scope (the CLI sets it for
    the process; tests and library users may not want that).
    """
    paths = stack_paths(stack, state_root)
    outputs_path, sandbox_path = paths.outputs, paths.sandbox
    if not outputs_path.exists():
        raise OutputsError(
            f"no sandbox outputs for stack {stack!r} at {outputs_path}; "
            f"run `python -m sandbox up --stack {stack}` first"
        )
    outputs = load_file(outputs_path)
    meta = load_file(sandbox_path)
    endpoint = meta.get("aws_endpoint_url")
    if not isinstance(endpoint, str) or not endpoint:
        raise OutputsError(f"{sandbox_path} has no 'aws_endpoint_url'; is the sandbox up?")
    env = {**SANDBOX_AWS_ENV, "AWS_ENDPOINT_URL": endpoint}
    region = outputs.get("region")
    if isinstance(region, str) and region:
        env["AWS_DEFAULT_REGION"] = env["AWS_REGION"] = region
    return outputs, env


def sandbox_transport(stack: str, state_root: Path | None = None) -> Transport:
    """How to reach a sandbox stack's app: the CA its load balancer's certificate is signed by
    and the loopback address of each listener of api_url's host (sandbox.json `tls`, written
    when the stack has a certificate); the defaults when it serves plain HTTP."""
    paths = stack_paths(stack, state_root)
    try:
        meta = read_json(paths.sandbox, default={}) or {}
    except CorruptJSONError as exc:
        raise OutputsError(f"{paths.sandbox} is not valid JSON: {exc.cause}") from exc
    tls = meta.get("tls") if isinstance(meta, dict) else None
    if not isinstance(tls, dict):
        return Transport()
    return Transport(
        ca_bundle=str(tls["ca_bundle"]) if tls.get("ca_bundle") else None,
        connect_to={str(k): str(v) for k, v in (tls.get("connect_to") or {}).items()},
    )


def transport_for_file(path: Path) -> Transport:
    """The sandbox's transport when the outputs file sits in a sandbox stack's folder."""
    stack_dir = Path(path).resolve().parent
    beside = StackPaths(stack_dir.parent, stack_dir.name)
    if beside.sandbox.is_file():
        return sandbox_transport(beside.stack, beside.root)
    return Transport()


#: Checks that call AWS (the rest only talk to the app over HTTP).
def _aws_checks(only: Iterable[str] | None) -> bool:
    wanted = set(only or ())
    return any("region" in c.requires for c in all_checks() if not wanted or c.name in wanted)


def aws_env_for_file(
    path: Path, outputs: dict[str, Any], only: Iterable[str] | None = None
) -> dict[str, str]:
    """What boto3 needs to verify the deployment an outputs file describes.

    A sandbox stack's outputs.json sits beside its sandbox.json, which names the stack's moto
    endpoint: that is used (unless AWS_ENDPOINT_URL is set). Otherwise a missing credential
    chain, or a loopback api_url with no AWS_ENDPOINT_URL, is named before any check runs,
    with the variable to set, instead of every AWS call failing with NoCredentialsError.
    """
    if not _aws_checks(only) or os.environ.get("AWS_ENDPOINT_URL"):
        return {}
    stack_dir = Path(path).resolve().parent
    beside = StackPaths(stack_dir.parent, stack_dir.name)
    if beside.sandbox.is_file():
        _, env = load_sandbox(beside.stack, beside.root)
        return env
    host = urlparse(str(outputs.get("api_url", ""))).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1"):
        raise OutputsError(
            f"{path} describes a local sandbox stack (api_url on {host}) but AWS_ENDPOINT_URL "
            "is not set: set AWS_ENDPOINT_URL to the stack's moto endpoint (shown by "
            "`python -m sandbox status --stack <stack>`), or verify with "
            "`python -m verify --stack <stack> --engine sandbox`"
        )
    if boto3.Session().get_credentials() is None:
        raise OutputsError(
            "no AWS credentials found for the AWS checks: set AWS_PROFILE (or "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or run under a role; "
            "`--only readiness,health,api,cors,ml,performance` needs none"
        )
    return {}


def load_pulumi(stack: str, cwd: Path = ROOT, pulumi: str = "pulumi") -> dict[str, Any]:
    """`pulumi stack output --json` for the stack; secrets stay masked (no --show-secrets)."""
    exe = shutil.which(pulumi)
    if exe is None:
        raise OutputsError(
            "the pulumi CLI is not installed (needed for --engine pulumi); install it from "
            "https://www.pulumi.com/docs/install/ or pass --outputs FILE / --engine sandbox"
        )
    cmd = [exe, "stack", "output", "--json", "--stack", stack]
    try:
        proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
            cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise OutputsError(f"`{' '.join(cmd)}` did not finish within 120s") from exc
    if proc.returncode != 0:
        raise OutputsError(
            f"`pulumi stack output --json --stack {stack}` failed (exit {proc.returncode}): "
            f"{proc.stderr.strip() or proc.stdout.strip()}"
        )
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise OutputsError(f"pulumi printed non-JSON outputs: {proc.stdout[:200]!r}") from exc
    if not isinstance(data, dict):
        raise OutputsError(f"pulumi printed {type(data).__name__}, expected a JSON object")
    return data


def public_view(outputs: dict[str, Any]) -> dict[str, Any]:
    """Outputs safe to write into reports: masked secrets stay masked, nothing is unmasked."""
    return {k: v for k, v in sorted(outputs.items()) if v != SECRET_PLACEHOLDER}
