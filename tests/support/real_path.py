"""Calling our CLIs on the real path (`--engine pulumi`) as a caller with its own credentials,
against the recording stand-in `pulumi` (tests/support/stand_in_pulumi.py)."""

from __future__ import annotations

import os
import subprocess

from tests.support.cli_runner import run_module

#: The caller's real-looking credentials (what OIDC or a profile would put in the environment).
CALLER_AWS = {
    "AWS_ACCESS_KEY_ID": "AKIACALLERKEY0000001",  # pragma: allowlist secret
    "AWS_SECRET_ACCESS_KEY": "caller-secret-not-testing",  # pragma: allowlist secret
    "AWS_REGION": "eu-west-1",
}


def caller_env(stand_in: dict[str, str]) -> dict[str, str]:
    """This process's env without any AWS_* (the test session points boto3 at moto), + caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, **CALLER_AWS, **stand_in, "PULUMI_CONFIG_PASSPHRASE": "stand-in"}


def automation(
    env: dict[str, str], *args: str, timeout: float = 600
) -> subprocess.CompletedProcess:
    return run_module("automation", *args, "--engine", "pulumi", env=env, timeout=timeout)


def argv(call: dict) -> list[str]:
    """A call's argv without the Automation API's global `--non-interactive`."""
    return [a for a in call["argv"] if a != "--non-interactive"]
