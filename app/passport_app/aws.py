"""boto3 clients shared by all threads of a worker, with timeouts that fail fast.

Clients (not sessions) are thread-safe, so one of each per app. ``AWS_ENDPOINT_URL`` is honoured
by botocore itself, which is how the same code talks to moto in the sandbox; we never pass an
endpoint. Timeouts are short and retries bounded: a request thread stuck on a dead dependency
is worse than a quick 503.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .config import Settings

#: Dependency failures we turn into 502/503 JSON (everything botocore raises).
AWS_ERRORS = (BotoCoreError, ClientError)

_CONFIG = Config(
    connect_timeout=3,
    read_timeout=10,
    retries={"mode": "standard", "max_attempts": 3},
)


@dataclass
class AwsClients:
    dynamodb: Any
    s3: Any
    ses: Any


def make_clients(settings: Settings) -> AwsClients:
    session = boto3.session.Session(region_name=settings.aws_region)
    return AwsClients(
        dynamodb=session.client("dynamodb", config=_CONFIG),
        s3=session.client("s3", config=_CONFIG),
        ses=session.client("ses", config=_CONFIG),
    )


def error_code(exc: Exception) -> str:
    """AWS's error code for a ClientError, else the exception type (for logs and messages)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "ClientError")
    return type(exc).__name__
