"""What the stack's live Elastic Beanstalk environment runs, read with the ambient credentials.

Managed platform updates move the environment to newer platform versions on their own; the
engine hands the live platform to the program (common/platforms.py decides what to declare)
and the `check` stage reports it beside the pin.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config

from components.naming import application_name, environment_name
from verify.aws import make_client

#: Quick and bounded: this read only refines a decision, it never blocks a run.
QUICK = Config(connect_timeout=5, read_timeout=15, retries={"total_max_attempts": 2})


def eb_client(region: str) -> Any:
    """An EB client in the stack's region (never the caller's ambient one)."""
    return make_client("elasticbeanstalk", {"AWS_REGION": region}, config=QUICK)


def live_platform(eb: Any, stack: str) -> str | None:
    """SolutionStackName of the stack's environment; None when it has none (or it is gone)."""
    found = eb.describe_environments(
        ApplicationName=application_name(stack),
        EnvironmentNames=[environment_name(stack)],
        IncludeDeleted=False,
    )
    for env in found.get("Environments") or []:
        if env.get("Status") not in ("Terminating", "Terminated"):
            return str(env.get("SolutionStackName") or "") or None
    return None
