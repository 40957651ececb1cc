"""Elastic Beanstalk's health API for the canary: one boto3 client, AWS and the sandbox alike.

The judge reads both versions through what EB itself reports (enhanced health): per instance
the last window's request count, status-code percentages, latency percentiles and the version
label it runs (`DescribeInstancesHealth`, AttributeNames All), the environment's view
(`DescribeEnvironmentHealth`), and stops a bad canary with `AbortEnvironmentUpdate`. On AWS
these come from EB; in the sandbox from its moto (sandbox/eb_health.py answers them from the
load balancer's measurements). Nothing here knows which.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.config import Config

from verify.aws import make_client

#: Short timeouts: a poll that hangs must not hold the judge past the evaluation window.
POLL_CONFIG = Config(connect_timeout=3, read_timeout=5, retries={"total_max_attempts": 2})


class EnvironmentHealth:
    """The health API of one EB environment."""

    def __init__(self, environment: str, client: Any) -> None:
        self.environment = environment
        self.client = client

    @classmethod
    def for_stack(
        cls,
        outputs: Mapping[str, Any],
        aws_env: Mapping[str, str] | None,
        make: Callable[..., Any] = make_client,
    ) -> EnvironmentHealth:
        """From the stack outputs (environment name, region) and the engine's AWS target."""
        env = {**(aws_env or {}), "AWS_REGION": str(outputs.get("region") or "us-east-1")}
        client = make("elasticbeanstalk", env, config=POLL_CONFIG)
        return cls(str(outputs["environment_name"]), client)

    def instances(self) -> dict[str, Any]:
        """DescribeInstancesHealth with every attribute, all pages in one response."""
        items: list[dict[str, Any]] = []
        token = None
        first: dict[str, Any] = {}
        while True:
            kwargs: dict[str, Any] = {
                "EnvironmentName": self.environment,
                "AttributeNames": ["All"],
            }
            if token:
                kwargs["NextToken"] = token
            page = self.client.describe_instances_health(**kwargs)
            first = first or page
            items += page.get("InstanceHealthList", [])
            token = page.get("NextToken")
            if not token:
                break
        return {"InstanceHealthList": items, "RefreshedAt": first.get("RefreshedAt")}

    def environment_health(self) -> dict[str, Any]:
        return dict(
            self.client.describe_environment_health(
                EnvironmentName=self.environment, AttributeNames=["All"]
            )
        )

    def abort(self) -> None:
        """AbortEnvironmentUpdate: EB returns all traffic to the old instances."""
        self.client.abort_environment_update(EnvironmentName=self.environment)
