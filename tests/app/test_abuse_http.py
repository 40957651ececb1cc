"""Abuse resistance over real HTTP: the bundle under gunicorn behind the sandbox's front proxy
(which appends X-Forwarded-For and bounds request heads as EB's ALB + nginx do), on moto."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox.moto_server import free_port
from tests.support.app_env import ensure_app_resources
from tests.support.served_bundle import ServedBundle
from tests.support.ses_mail import sent_messages

pytestmark = pytest.mark.slow

VALIDATE = "/api/v1/email/validate"
LIMIT = 3  # RATE_LIMIT_VALIDATE for this module: small, one worker, so counts are exact
#: What the served bundle (tests/app/conftest.py) runs with here, on top of APP_ENV.
SERVED_BUNDLE_ENV = {
    "RATE_LIMIT_VALIDATE": f"{LIMIT} per minute",
    "WEB_CONCURRENCY": "1",  # Flask-Limiter's memory storage counts per worker
}


@dataclass
class Front:
    port: int
    log: Path


@pytest.fixture(scope="module")
def front(served_bundle: ServedBundle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    """The sandbox's front proxy (as EB's ALB + nginx) before the served bundle."""
    front_port = free_port()
    target = tmp_path_factory.mktemp("front") / "proxy-target"
    target.write_text(str(served_bundle.port))
    proxy = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "sandbox.proxy",
            "--port",
            str(front_port),
            "--target-file",
            str(target),
        ]
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if request(front_port, "GET", "/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        yield Front(front_port, served_bundle.log)
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)


def request(
    port: int,
    method: str,
    path: str,
    body: dict | None = None,
    headers: dict | None = None,
    source: str = "127.0.0.1",
) -> tuple[int, dict, bytes]:
    """One request from client address ``source`` (any 127/8 address works on loopback)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    try:
        payload = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=payload, headers=all_headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_forged_forwarded_for_cannot_reset_the_per_client_limit(front: Front) -> None:
    ensure_app_resources()
    statuses = []
    for i in range(3 * LIMIT):
        status, headers, body = request(
            front.port,
            "POST",
            VALIDATE,
            {"email": f"forge{i}@example.org"},  # a new address each time: only the client limit
            headers={"X-Forwarded-For": f"203.0.113.{i}, 198.51.100.{i}"},
            source="127.0.0.5",
        )
        statuses.append(status)
        if status == 429:
            assert json.loads(body)["error"]["code"] == "rate_limited"
            assert 1 <= int(headers["Retry-After"]) <= 60
    assert statuses == [202] * LIMIT + [429] * (2 * LIMIT)
    # Another real client address has its own budget: the key is the address, not a header.
    assert (
        request(front.port, "POST", VALIDATE, {"email": "other@example.org"}, source="127.0.0.6")[0]
        == 202
    )


def test_over_long_request_heads_get_our_json_not_gunicorn_html(front: Front) -> None:
    status, headers, body = request(front.port, "GET", "/health?" + "a" * 5000)
    assert status == 414 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "uri_too_long"
    status, headers, body = request(front.port, "GET", "/health", headers={"X-Big": "b" * 5000})
    assert status == 431 and json.loads(body)["error"]["code"] == "headers_too_large"
    # Many small headers (gunicorn's default limit was 100 fields, answered in HTML) pass the
    # front's head limit and reach the app.
    many = {f"X-H{i}": "v" for i in range(150)}
    status, headers, body = request(front.port, "GET", "/health", headers=many)
    assert status == 200 and json.loads(body)["status"] == "ok"


def test_nothing_personal_is_logged(front: Front, moto_endpoint: str) -> None:
    ensure_app_resources()
    address = "private.person@example.org"
    source = "127.0.0.77"
    assert request(front.port, "POST", VALIDATE, {"email": address}, source=source)[0] == 202
    (message,) = sent_messages(moto_endpoint, address)
    token = re.search(r"token=([A-Za-z0-9_-]+)", message["body"]).group(1)
    status, _, _ = request(front.port, "GET", f"/api/v1/email/confirm?token={token}", source=source)
    assert status == 200
    request(front.port, "POST", VALIDATE, {"email": "x" * 300 + "@bad"}, source=source)
    for i in range(LIMIT):  # a breached limit is logged without the client's address too
        request(front.port, "POST", VALIDATE, {"email": f"p{i}@example.org"}, source=source)
    time.sleep(0.5)  # let gunicorn flush the worker's log lines
    log = front.log.read_text()
    assert '"path":"/api/v1/email/confirm"' in log  # the requests were logged...
    assert '"error_code":"rate_limited"' in log
    for secret in (address, token, source, "x" * 50):
        assert secret not in log  # ...without the address, the token, or the client's address
    assert '"client_net":"127.0.0.0/24"' in log
