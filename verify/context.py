"""What a check gets to work with: the outputs, its deadline, and clients bound to both."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.polling import Deadline
from verify.aws import AwsClients
from verify.http import HttpClient, PerThreadClients
from verify.model import Outcome
from verify.progress import log
from verify.transport import Transport


@dataclass
class CheckContext:
    name: str
    outputs: dict[str, Any]
    deadline: Deadline
    images_dir: Path
    report_dir: Path | None = None
    aws_env: dict[str, str] | None = None
    """The AWS target when it is not the ambient one (the sandbox's moto); see verify.aws."""
    transport: Transport | None = None
    """Trusted CAs and host addresses for the app (verify/transport.py); None: the defaults."""
    _http: HttpClient | None = field(default=None, repr=False)
    _aws: AwsClients | None = field(default=None, repr=False)

    @property
    def http(self) -> HttpClient:
        """Client for the app at outputs['api_url'], created on first use."""
        if self._http is None:
            self._http = HttpClient(
                self.outputs["api_url"], self.deadline, transport=self.transport
            )
        return self._http

    def http_per_thread(self) -> PerThreadClients:
        """Clients for the app, one per worker thread (checks that send from a pool)."""
        return PerThreadClients(self.outputs["api_url"], self.deadline, self.transport)

    @property
    def aws(self) -> AwsClients:
        if self._aws is None:
            self._aws = AwsClients(self.outputs["region"], self.deadline, aws_env=self.aws_env)
        return self._aws

    def log(self, message: str) -> None:
        log(f"{self.name}: {message}")

    def artifacts_dir(self) -> Path | None:
        """report_dir/images, for files the HTML report shows; None when not writing reports."""
        if self.report_dir is None:
            return None
        path = self.report_dir / "images"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def close(self) -> None:
        if self._http is not None:
            self._http.close()


@dataclass(frozen=True)
class Check:
    """One named, independent check.

    `requires` lists the output keys it reads (validated up front, exit 2 when missing);
    `needs_app` means it talks to the app and so waits for readiness. `exclusive` checks run
    alone after the others, so a load measurement is not skewed by verify's own traffic.
    """

    name: str
    run: Callable[[CheckContext], Outcome]
    description: str
    requires: tuple[str, ...] = ()
    needs_app: bool = True
    timeout_s: float = 60.0
    exclusive: bool = False
    #: Opt-in checks (None = always in the default set) run without `--only` only when this
    #: says so for the outputs (e.g. `load` when the stack's config asks for it).
    opt_in: Callable[[dict[str, Any]], bool] | None = None
