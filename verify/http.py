"""HTTP access to the deployed app: per-call timeouts clipped to the check's deadline, retries
only on transient failures (connection refused/reset while an environment warms, and 429/502/
503/504 from the load balancer or proxy, i.e. not the app's own JSON error answers — except
a 503 with Retry-After, the app's back-pressure answer `busy`, which asks to be retried).

Anything else comes back to the check at once, because a wrong status or body is the answer the
check is looking for, not noise to retry through. A TLS failure (`requests.exceptions.SSLError`,
a subclass of ConnectionError) is permanent too: a certificate for another host or from an
untrusted CA does not fix itself, so it stops at once as `TlsFailed`, naming the host, the
certificate's names and the fix (verify/transport.py), instead of retrying until the deadline.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urljoin

import requests

from common.polling import Backoff, Deadline, RetriesExhausted, call_with_retry
from verify.model import CheckFailed, TlsFailed
from verify.progress import log
from verify.transport import Transport, tls_failure

TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
WHERE_APP = "the Elastic Beanstalk environment health and app logs (`eb logs` / .sandbox/<stack>/)"


class TransientStatus(Exception):
    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"HTTP {response.status_code} from {response.url}")
        self.response = response


def is_app_answer(resp: requests.Response) -> bool:
    """The app's own JSON error (`{"error": {"code": ...}}`), not a proxy's or balancer's page.

    The app uses 502/503 for definite answers (`email_delivery_failed`, `model_unavailable`,
    `storage_unavailable`): retrying those only repeats the request and delays the finding.
    """
    if not resp.headers.get("Content-Type", "").startswith("application/json"):
        return False
    try:
        body = resp.json()
    except ValueError:
        return False
    return (
        isinstance(body, dict) and isinstance(body.get("error"), dict) and "code" in body["error"]
    )


def is_transient_http(exc: BaseException) -> bool:
    """Connection refused/reset and gateway/throttling statuses; never read timeouts.

    A read timeout means the app accepted the request and is too slow: retrying a photo upload
    would double the load on an already slow app and hide the latency the checks must report.
    """
    if isinstance(exc, TransientStatus):
        return True
    return isinstance(exc, requests.ConnectionError) and not isinstance(
        exc, (requests.Timeout, requests.exceptions.SSLError)
    )


class HttpClient:
    """A requests session bound to the app's base URL and one check's deadline.

    One per check: requests.Session is not documented as thread-safe, and checks run in threads.
    """

    def __init__(
        self,
        base_url: str,
        deadline: Deadline,
        *,
        timeout_s: float = 15.0,
        backoff: Backoff | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.deadline = deadline
        self.timeout_s = timeout_s
        self.backoff = backoff or Backoff()
        self.transport = transport or Transport()
        self.session = self.transport.session()
        self.session.headers["User-Agent"] = "passport-verify/1"

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/"))

    def request(
        self,
        method: str,
        path: str,
        *,
        retry: bool = True,
        timeout_s: float | None = None,
        backoff: Backoff | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request; on transient trouble retry, then return the last response.

        Returning the last 503 (rather than raising) lets the check report the status and body
        the app actually gave. Connection failures and read timeouts become CheckFailed with a
        message naming the URL and where to look.
        """
        url = self.url(path)
        what = f"{method} {url}"
        per_call = timeout_s or self.timeout_s

        def send() -> requests.Response:
            if self.deadline.expired:
                raise CheckFailed(f"{what}: not sent, the check's deadline has passed")
            resp = self.session.request(
                method,
                url,
                timeout=self.deadline.clip(per_call),
                allow_redirects=False,
                **{**self.transport.request_kwargs(), **kwargs},
            )
            # A 503 with Retry-After is the app's back-pressure (busy): it asks to be retried.
            if resp.status_code in TRANSIENT_STATUSES and (
                not is_app_answer(resp) or resp.headers.get("Retry-After")
            ):
                raise TransientStatus(resp)
            return resp

        policy = (backoff or self.backoff) if retry else Backoff(attempts=1)
        try:
            return call_with_retry(
                send,
                what=what,
                is_transient=is_transient_http,
                deadline=self.deadline,
                backoff=policy,
                asked_wait=retry_after,
                log_line=log,
            )
        except TransientStatus as exc:  # retry disabled
            return exc.response
        except requests.exceptions.SSLError as exc:
            raise TlsFailed(
                f"{what}: {tls_failure(url, exc, self.transport)}", {"url": url}
            ) from exc
        except RetriesExhausted as exc:
            if isinstance(exc.last, TransientStatus):
                return exc.last.response
            raise CheckFailed(
                f"{what}: could not connect after {exc.attempts} attempt(s) ({exc.last}) — "
                f"check api_url and {WHERE_APP}"
            ) from exc
        except requests.Timeout as exc:
            raise CheckFailed(
                f"{what}: no answer within {self.deadline.clip(per_call):.1f}s — check {WHERE_APP}"
            ) from exc
        except requests.RequestException as exc:
            raise CheckFailed(f"{what}: request failed ({exc}) — check {WHERE_APP}") from exc

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("OPTIONS", path, **kwargs)

    def close(self) -> None:
        self.session.close()


def retry_after(exc: BaseException) -> float | None:
    """Seconds a 429/503 asked the client to wait (Retry-After in seconds), if it did."""
    if not isinstance(exc, TransientStatus):
        return None
    value = exc.response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def describe(resp: requests.Response, limit: int = 200) -> str:
    """Status plus the start of the body, for messages: enough to see what the app said."""
    ctype = resp.headers.get("Content-Type", "")
    if ctype.startswith(("application/json", "text/")):
        body = resp.text.strip().replace("\n", " ")
        if len(body) > limit:
            body = body[:limit] + "…"
        return f"HTTP {resp.status_code} {body!r}"
    return f"HTTP {resp.status_code} ({ctype or 'no content-type'}, {len(resp.content)} bytes)"


def json_body(resp: requests.Response, what: str) -> Any:
    try:
        return resp.json()
    except ValueError as exc:
        raise CheckFailed(
            f"{what}: expected a JSON body, got {describe(resp)} — check {WHERE_APP}"
        ) from exc


class PerThreadClients:
    """One HttpClient per worker thread, for checks that send requests from a thread pool.

    requests.Session is not thread-safe, and a pool hands tasks to whichever thread is free, so
    a client cannot be picked by task index; it belongs to the thread.
    """

    def __init__(
        self, base_url: str, deadline: Deadline, transport: Transport | None = None
    ) -> None:
        self.base_url = base_url
        self.deadline = deadline
        self.transport = transport
        self._local = threading.local()
        self._all: list[HttpClient] = []
        self._lock = threading.Lock()

    def get(self) -> HttpClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = HttpClient(self.base_url, self.deadline, transport=self.transport)
            self._local.client = client
            with self._lock:
                self._all.append(client)
        return client

    def close(self) -> None:
        with self._lock:
            for client in self._all:
                client.close()
            self._all.clear()
