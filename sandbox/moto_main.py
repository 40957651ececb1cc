"""`python -m sandbox.moto_main -H 127.0.0.1 -p PORT`: moto's server, AWS policy semantics,
and Elastic Beanstalk's health API and CloudWatch's alarm evaluation for the sandbox's stack.

The sandbox's long-lived per-stack moto process. It is moto's own server entry point after
`apply_aws_condition_semantics()` (see sandbox/moto_server.py for the moto behaviour it fixes).
When started for a stack (`SANDBOX_STATE_DIR` names its state folder, as the engine does) it
also answers what moto does not implement and the canary judge needs — DescribeInstancesHealth,
DescribeEnvironmentHealth and AbortEnvironmentUpdate (sandbox/eb_health.py) — and runs the
CloudWatch agent that publishes the EB metrics and evaluates the stack's alarms
(sandbox/cloudwatch_agent.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import boto3
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.elasticbeanstalk.responses import EBResponse
from moto.server import main as moto_main

from common.contracts import SANDBOX_AWS_ENV
from sandbox.cloudwatch_agent import CloudWatchAgent
from sandbox.eb_health import HealthApiError, StackHealth
from sandbox.moto_server import LOOPBACK, SANDBOX_STATE_ENV, apply_aws_condition_semantics


class _HealthError(ServiceException):
    """EB's error answer (code and message from HealthApiError)."""

    def __init__(self, error: HealthApiError) -> None:
        self.code = error.code
        super().__init__(error.message)


def install_health_api(state_dir: Path) -> None:
    """Add EB's health actions to moto's Elastic Beanstalk responses, answered for `state_dir`."""
    health = StackHealth(state_dir)

    def call(fn: Any, **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except HealthApiError as exc:
            raise _HealthError(exc) from None

    def describe_instances_health(self: EBResponse) -> ActionResult:
        return ActionResult(
            call(
                health.describe_instances_health,
                environment_name=self._get_param("EnvironmentName"),
                environment_id=self._get_param("EnvironmentId"),
                attribute_names=self._get_param("AttributeNames", []) or [],
            )
        )

    def describe_environment_health(self: EBResponse) -> ActionResult:
        return ActionResult(
            call(
                health.describe_environment_health,
                environment_name=self._get_param("EnvironmentName"),
                environment_id=self._get_param("EnvironmentId"),
                attribute_names=self._get_param("AttributeNames", []) or [],
            )
        )

    def abort_environment_update(self: EBResponse) -> EmptyResult:
        call(
            health.abort_environment_update,
            environment_name=self._get_param("EnvironmentName"),
            environment_id=self._get_param("EnvironmentId"),
        )
        return EmptyResult()

    EBResponse.describe_instances_health = describe_instances_health
    EBResponse.describe_environment_health = describe_environment_health
    EBResponse.abort_environment_update = abort_environment_update


def _port(argv: list[str]) -> int | None:
    for flag in ("-p", "--port"):
        if flag in argv:
            return int(argv[argv.index(flag) + 1])
    return None


def start_agent(state_dir: Path, port: int) -> CloudWatchAgent:
    """The CloudWatch agent of `state_dir`'s stack, talking to this moto over loopback."""
    endpoint = f"http://{LOOPBACK}:{port}"
    session = boto3.session.Session(
        aws_access_key_id=SANDBOX_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=SANDBOX_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=SANDBOX_AWS_ENV["AWS_SESSION_TOKEN"],
    )
    clients: dict[str, Any] = {}

    def cloudwatch(region: str) -> Any:
        if region not in clients:
            clients[region] = session.client(
                "cloudwatch", region_name=region, endpoint_url=endpoint
            )
        return clients[region]

    agent = CloudWatchAgent(state_dir, cloudwatch)
    agent.start()
    return agent


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    apply_aws_condition_semantics()
    state_dir = os.environ.get(SANDBOX_STATE_ENV)
    if state_dir:
        install_health_api(Path(state_dir))
        port = _port(args)
        if port is not None:
            start_agent(Path(state_dir), port)
    moto_main(args)


if __name__ == "__main__":
    main()
