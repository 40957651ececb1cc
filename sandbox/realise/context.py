"""What every resource handler needs: boto3 clients on moto, naming, ARNs, thread safety.

`new_resource` runs on several worker threads at once. boto3 *clients* are thread-safe but
creating them (and sessions) is not, so clients are made lazily under a lock from one session
and then shared. Physical names of auto-named resources are deterministic per (stack, type,
logical name) — `<logical name>-<7 hex>` like Pulumi's auto-naming, but repeatable — so a second
`up` finds the resources the first one made instead of creating twins.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: moto's default account; ARNs must match what moto itself reports.
ACCOUNT_ID = "123456789012"


@dataclass
class RealiseContext:
    """Shared by all handlers of one `up`: endpoint, region, stack and the boto3 clients."""

    stack: str
    project: str
    region: str
    endpoint_url: str
    credentials: Mapping[str, str]
    services: Any = None
    """Extra collaborators a handler needs (the EB environment realiser); set by the engine."""
    deployed: Mapping[str, Any] = field(default_factory=dict)
    """The graph of the last `up` (resource key → id, state): what already exists, like
    Pulumi's state, so a handler can tell a create from an update."""
    _clients: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _session: Any = None

    def client(self, service: str) -> Any:
        """A shared boto3 client for `service` against moto (created once, under a lock)."""
        with self._lock:
            if service not in self._clients:
                # lazy import: boto3 costs 0.12 s (importtime) at start-up of every
                # `python -m sandbox` command; outputs/status/down never make a client.
                import boto3
                from botocore.config import Config

                if self._session is None:
                    self._session = boto3.session.Session(
                        aws_access_key_id=self.credentials["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=self.credentials["AWS_SECRET_ACCESS_KEY"],
                        aws_session_token=self.credentials.get("AWS_SESSION_TOKEN"),
                        region_name=self.region,
                    )
                self._clients[service] = self._session.client(
                    service,
                    endpoint_url=self.endpoint_url,
                    config=Config(retries={"max_attempts": 3, "mode": "standard"}),
                )
            return self._clients[service]

    def physical_name(
        self,
        typ: str,
        logical: str,
        inputs: Mapping[str, Any],
        key: str = "name",
        *,
        lower: bool = False,
        max_len: int = 255,
    ) -> str:
        """The explicit name input if given, else `<prefix or logical>-<7 hex>` (repeatable)."""
        explicit = inputs.get(key)
        if explicit:
            return str(explicit)
        prefix = inputs.get(f"{key}Prefix")
        digest = hashlib.sha256(f"{self.stack}/{typ}/{logical}".encode()).hexdigest()[:7]
        name = f"{prefix}{digest}" if prefix else f"{logical}-{digest}"
        name = name.lower() if lower else name
        return name[:max_len]

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:aws:{service}:{self.region if region else ''}:"
            f"{ACCOUNT_ID if account else ''}:{resource}"
        )

    def tags_all(self, inputs: Mapping[str, Any]) -> dict[str, str]:
        return dict(inputs.get("tags") or {})


#: A handler realises one resource: (context, logical name, inputs) → (id, state).
Handler = Callable[[RealiseContext, str, dict[str, Any]], tuple[str, dict[str, Any]]]


def pascal(value: Any, overrides: Mapping[str, str] | None = None) -> Any:
    """Pulumi's camelCase input tree → the AWS API's PascalCase (deep), e.g. for S3 rules."""
    overrides = overrides or {}
    if isinstance(value, Mapping):
        return {
            overrides.get(k, k[:1].upper() + k[1:]): pascal(v, overrides)
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list):
        return [pascal(v, overrides) for v in value]
    return value


def tag_list(tags: Mapping[str, str] | None, key: str = "Key", value: str = "Value") -> list[dict]:
    return [{key: k, value: str(v)} for k, v in sorted((tags or {}).items())]
