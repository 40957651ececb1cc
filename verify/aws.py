"""boto3 access for the checks: timeouts, one retry policy (ours, logged), transient classifier.

botocore's own retries are switched off so there is exactly one retry layer, bounded by the
check's deadline and logging each retry like the HTTP side does. Endpoint and credentials come
from the environment (AWS_ENDPOINT_URL for the sandbox), so the same code runs against AWS.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
import botocore.exceptions as bx
from botocore.config import Config
from botocore.parsers import ResponseParserError

from verify.model import Deadline
from verify.retry import Backoff, call_with_retry

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
TRANSIENT_HTTP = frozenset({429, 500, 502, 503, 504})

_factory_lock = threading.Lock()  # boto3's default session is not thread-safe to build clients


def error_code(exc: BaseException) -> str:
    if isinstance(exc, bx.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_transient_aws(exc: BaseException) -> bool:
    """Throttling, 5xx from the service and dropped connections; never a 4xx answer.

    An AccessDenied or ResourceNotFound is the answer the check needs, not a hiccup.
    """
    if isinstance(exc, bx.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return error_code(exc) in TRANSIENT_CODES or (
            status in TRANSIENT_HTTP and not endpoint_override()
        )
    return isinstance(
        exc,
        bx.EndpointConnectionError
        | bx.ConnectionClosedError
        | bx.ReadTimeoutError
        | bx.ConnectTimeoutError,
    )


def endpoint_override() -> str | None:
    """AWS_ENDPOINT_URL when set: the sandbox (moto) rather than real AWS."""
    return os.environ.get("AWS_ENDPOINT_URL") or None


def is_not_implemented(exc: BaseException) -> bool:
    """True when a custom endpoint (moto) does not implement the operation at all.

    moto answers unimplemented actions with a bare HTML 500 or 404 that botocore cannot parse.
    Only meaningful under AWS_ENDPOINT_URL; on real AWS such errors are real failures.
    """
    if not endpoint_override():
        return False
    if isinstance(exc, ResponseParserError):
        return True
    if isinstance(exc, bx.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status in (404, 500, 501) and error_code(exc) in ("404", "500", "501", "")
    return False


class AwsClients:
    """boto3 clients for one check, with timeouts and the deadline-bounded retry."""

    def __init__(self, region: str, deadline: Deadline, *, backoff: Backoff | None = None):
        self.region = region
        self.deadline = deadline
        self.backoff = backoff or Backoff(attempts=5, base_s=0.5, max_s=8.0)
        self._clients: dict[str, Any] = {}
        timeout = max(1.0, min(20.0, deadline.remaining()))
        self._config = Config(
            region_name=region,
            connect_timeout=min(5.0, timeout),
            read_timeout=timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
        )

    def client(self, service: str) -> Any:
        if service not in self._clients:
            with _factory_lock:
                self._clients[service] = boto3.client(service, config=self._config)
        return self._clients[service]

    def call(self, service: str, operation: str, **kwargs: Any) -> dict[str, Any]:
        """client(service).<operation>(**kwargs) with retries on transient errors only."""
        method = getattr(self.client(service), operation)
        return call_with_retry(
            lambda: method(**kwargs),
            what=f"{service}.{operation}",
            is_transient=is_transient_aws,
            deadline=self.deadline,
            backoff=self.backoff,
        )
