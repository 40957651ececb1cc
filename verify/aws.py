"""boto3 access for the checks: timeouts, one retry policy (ours, logged), transient classifier.

botocore's own retries are switched off so there is exactly one retry layer, bounded by the
check's deadline and logging each retry like the HTTP side does. Endpoint and credentials come
from the ambient chain (real AWS), or from an explicit `aws_env` mapping (the sandbox's moto
endpoint and fake credentials) that is given to boto3 as a session of its own and never written
into `os.environ`: the process environment is copied into every `pulumi` CLI call, so a sandbox
endpoint leaking there would send a real deployment to a dead loopback port.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

import boto3
import botocore.exceptions as bx
from botocore.config import Config
from botocore.parsers import ResponseParserError

from common.aws_errors import error_code
from common.polling import Backoff, Deadline, call_with_retry
from verify.progress import log

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

#: AWS_* variables naming a target explicitly (credentials, AWS_ENDPOINT_URL, AWS_REGION).
AwsEnv = Mapping[str, str]


def make_client(
    service: str, aws_env: AwsEnv | None = None, *, config: Config | None = None
) -> Any:
    """A boto3 client: the ambient chain, or the target `aws_env` names, in a session of its own.

    The one way this project builds a client for "wherever the stack lives" (verify, records,
    notifications, bundle fetches) without reading or changing the process environment.
    """
    with _factory_lock:
        if not aws_env:
            return boto3.client(service, config=config)
        session = boto3.session.Session(
            aws_access_key_id=aws_env.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=aws_env.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=aws_env.get("AWS_SESSION_TOKEN"),
            region_name=aws_env.get("AWS_REGION") or aws_env.get("AWS_DEFAULT_REGION"),
        )
        return session.client(
            service, endpoint_url=aws_env.get("AWS_ENDPOINT_URL") or None, config=config
        )


def is_transient_aws(exc: BaseException, aws_env: AwsEnv | None = None) -> bool:
    """Throttling, 5xx from the service and dropped connections; never a 4xx answer.

    An AccessDenied or ResourceNotFound is the answer the check needs, not a hiccup.
    """
    if isinstance(exc, bx.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return error_code(exc) in TRANSIENT_CODES or (
            status in TRANSIENT_HTTP and not endpoint_override(aws_env)
        )
    return isinstance(
        exc,
        bx.EndpointConnectionError
        | bx.ConnectionClosedError
        | bx.ReadTimeoutError
        | bx.ConnectTimeoutError,
    )


def endpoint_override(aws_env: AwsEnv | None = None) -> str | None:
    """AWS_ENDPOINT_URL of `aws_env` (else of the process): the sandbox (moto), not real AWS.

    An `aws_env` that names no endpoint (the real engine's: only the stack's region) leaves
    the process's in force, as boto3 itself does for the clients built from it.
    """
    named = (aws_env or {}).get("AWS_ENDPOINT_URL")
    return named or os.environ.get("AWS_ENDPOINT_URL") or None


def is_not_implemented(exc: BaseException, aws_env: AwsEnv | None = None) -> bool:
    """True when a custom endpoint (moto) does not implement the operation at all.

    moto answers unimplemented actions with a bare HTML 500 or 404 that botocore cannot parse.
    Only meaningful under AWS_ENDPOINT_URL; on real AWS such errors are real failures.
    """
    if not endpoint_override(aws_env):
        return False
    if isinstance(exc, ResponseParserError):
        return True
    if isinstance(exc, bx.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status in (404, 500, 501) and error_code(exc) in ("404", "500", "501", "")
    return False


class AwsClients:
    """boto3 clients for one check, with timeouts and the deadline-bounded retry."""

    def __init__(
        self,
        region: str,
        deadline: Deadline,
        *,
        backoff: Backoff | None = None,
        aws_env: AwsEnv | None = None,
    ):
        self.region = region
        self.aws_env = dict(aws_env or {})
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
            self._clients[service] = make_client(service, self.aws_env, config=self._config)
        return self._clients[service]

    @property
    def endpoint_url(self) -> str | None:
        return endpoint_override(self.aws_env)

    def is_not_implemented(self, exc: BaseException) -> bool:
        return is_not_implemented(exc, self.aws_env)

    def call(self, service: str, operation: str, **kwargs: Any) -> dict[str, Any]:
        """client(service).<operation>(**kwargs) with retries on transient errors only."""
        method = getattr(self.client(service), operation)
        return call_with_retry(
            lambda: method(**kwargs),
            what=f"{service}.{operation}",
            is_transient=lambda exc: is_transient_aws(exc, self.aws_env),
            deadline=self.deadline,
            backoff=self.backoff,
            log_line=log,
        )
