"""HttpClient: retries only transient failures, with a log line each, bounded by the deadline."""

from __future__ import annotations

import time

import pytest

from common.polling import Backoff, Deadline
from sandbox.moto_server import free_port
from tests.support.scripted_server import Reply, ScriptedServer
from verify.http import HttpClient
from verify.model import CheckFailed

FAST = Backoff(attempts=5, base_s=0.05, max_s=0.2)


def client(url: str, seconds: float = 10.0, timeout_s: float = 5.0) -> HttpClient:
    return HttpClient(url, Deadline(seconds), timeout_s=timeout_s, backoff=FAST)


def test_transient_statuses_are_retried_until_success(server: ScriptedServer, progress_lines):
    server.on("/health", Reply(503), Reply(502), Reply(200, {"status": "ok"}))
    resp = client(server.url).get("/health")
    assert resp.status_code == 200
    assert server.count("/health") == 3
    retries = [line for line in progress_lines if "retry GET" in line]
    assert len(retries) == 2 and "HTTP 503" in retries[0] and "HTTP 502" in retries[1]


def test_retry_after_is_honoured_not_undercut(server: ScriptedServer, progress_lines):
    """A rate limiter's Retry-After: retrying sooner only counts against the limit again."""
    limited = Reply(429, {"error": {"code": "rate_limited"}}, headers={"Retry-After": "1"})
    server.on("/api", limited, Reply(200))
    started = time.monotonic()
    assert client(server.url).get("/api").status_code == 200
    assert time.monotonic() - started >= 1.0  # FAST's own backoff would retry after ~0.05 s
    assert any("next in 1.0" in line for line in progress_lines), progress_lines


def test_a_retry_after_beyond_the_deadline_returns_the_answer_at_once(server: ScriptedServer):
    limited = Reply(429, {"error": {"code": "rate_limited"}}, headers={"Retry-After": "60"})
    server.on("/api", limited, Reply(200))
    started = time.monotonic()
    resp = client(server.url, seconds=5).get("/api")
    assert resp.status_code == 429 and server.count("/api") == 1
    assert time.monotonic() - started < 2  # no waiting out a wait that cannot end in time


def test_dropped_connection_is_retried(server: ScriptedServer, progress_lines):
    server.on("/health", Reply(drop=True), Reply(200))
    assert client(server.url).get("/health").status_code == 200
    assert server.count("/health") == 2
    assert any("retry GET" in line for line in progress_lines)


@pytest.mark.parametrize("status", [400, 404, 500])
def test_non_transient_status_returns_at_once(server: ScriptedServer, status: int, progress_lines):
    server.on("/x", Reply(status, {"error": {"code": "c", "message": "m"}}), Reply(200))
    assert client(server.url).get("/x").status_code == status
    assert server.count("/x") == 1
    assert not any("retry" in line for line in progress_lines)


def test_exhausted_transient_status_returns_the_last_answer(server: ScriptedServer):
    server.on("/health", Reply(503, {"status": "warming"}))
    resp = client(server.url).get("/health")
    assert resp.status_code == 503 and resp.json() == {"status": "warming"}
    assert server.count("/health") == FAST.attempts


def test_connection_refused_fails_with_url_and_where_to_look():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CheckFailed) as err:
        client(url).get("/health")
    message = str(err.value)
    assert url in message and "could not connect after 5 attempt(s)" in message
    assert "check api_url" in message


def test_read_timeout_is_not_retried(server: ScriptedServer):
    server.on("/slow", Reply(200, delay_s=1.0))
    started = time.monotonic()
    with pytest.raises(CheckFailed, match=r"no answer within 0\.3s"):
        client(server.url, timeout_s=0.3).get("/slow")
    assert server.count("/slow") == 1
    assert time.monotonic() - started < 0.9


def test_retries_stop_at_the_deadline(server: ScriptedServer):
    server.on("/health", Reply(503))
    slow = Backoff(attempts=100, base_s=0.2, factor=1.0, max_s=0.2, jitter=0.0)
    started = time.monotonic()
    resp = HttpClient(server.url, Deadline(1.0), backoff=slow).get("/health")
    elapsed = time.monotonic() - started
    assert resp.status_code == 503
    assert elapsed < 1.2, f"retry loop outlived its 1s deadline: {elapsed:.2f}s"
    assert 3 <= server.count("/health") <= 6


def test_expired_deadline_sends_nothing(server: ScriptedServer):
    server.on("/health", Reply(200))
    deadline = Deadline(0.0)
    with pytest.raises(CheckFailed, match="deadline has passed"):
        HttpClient(server.url, deadline, backoff=FAST).get("/health")
    assert server.count("/health") == 0


def test_the_apps_own_5xx_error_is_an_answer_not_a_retry(server: ScriptedServer, progress_lines):
    body = {"error": {"code": "email_delivery_failed", "message": "SES refused the send"}}
    server.on("/api/v1/email/validate", Reply(502, body), Reply(202, {"status": "pending"}))
    resp = client(server.url).post("/api/v1/email/validate", json={"email": "a@b.c"})
    assert resp.status_code == 502 and resp.json() == body
    assert server.count("/api/v1/email/validate") == 1
    assert not any("retry" in line for line in progress_lines)
