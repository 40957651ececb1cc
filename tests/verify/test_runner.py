"""Runner: readiness first, bounded concurrency, per-check and whole-run deadlines."""

from __future__ import annotations

import threading
import time

import botocore.exceptions as bx
import pytest

from common.polling import Backoff, Deadline, RetriesExhausted, call_with_retry
from tests.support.photos import TEST_IMAGES
from verify.aws import is_transient_aws
from verify.context import Check, CheckContext
from verify.model import CheckFailed, Outcome, Status
from verify.progress import log
from verify.runner import run_checks

IMAGES = TEST_IMAGES


def check(name: str, fn, *, needs_app: bool = True, timeout_s: float = 5.0) -> Check:
    return Check(name=name, run=fn, description=name, needs_app=needs_app, timeout_s=timeout_s)


def passing(ctx: CheckContext) -> Outcome:
    return Outcome("fine", {"n": 1})


def failing(ctx: CheckContext) -> Outcome:
    raise CheckFailed("table t: PITR expected ENABLED, got DISABLED — check x", {"k": "v"})


def crashing(ctx: CheckContext) -> Outcome:
    raise KeyError("boom")


def hanging(ctx: CheckContext) -> Outcome:
    threading.Event().wait()  # ignores its deadline entirely: the hard timeout must catch it
    raise AssertionError("unreachable")


def run(checks, **kwargs):
    kwargs.setdefault("images_dir", IMAGES)
    return {r.name: r for r in run_checks(checks, {}, **kwargs)}


def test_statuses_and_messages_come_from_the_checks():
    results = run(
        [
            check("readiness", passing),
            check("a", passing),
            check("b", failing),
            check("c", crashing),
        ]
    )
    assert results["a"].status is Status.PASSED and results["a"].details == {"n": 1}
    assert results["b"].status is Status.FAILED
    assert results["b"].message.startswith("table t: PITR expected ENABLED")
    assert results["c"].status is Status.ERROR and "KeyError" in results["c"].message
    assert "traceback" in results["c"].details


def test_failed_readiness_skips_app_checks_but_not_aws_checks():
    results = run(
        [
            check("readiness", failing),
            check("health", passing),
            check("dynamodb", passing, needs_app=False),
        ]
    )
    assert results["health"].status is Status.SKIPPED
    assert "readiness did not pass" in results["health"].message
    assert results["dynamodb"].status is Status.PASSED


def test_readiness_runs_before_everything_else():
    order: list[str] = []

    def record(name: str, pause: float = 0.0):
        def fn(ctx):
            order.append(f"start {name}")
            time.sleep(pause)
            order.append(f"end {name}")
            return Outcome("ok")

        return fn

    run(
        [
            check("readiness", record("readiness", 0.2)),
            check("a", record("a")),
            check("b", record("b")),
        ],
        concurrency=4,
    )
    assert order[:2] == ["start readiness", "end readiness"]


def test_concurrency_is_bounded():
    live, peak = 0, 0
    lock = threading.Lock()

    def busy(ctx):
        nonlocal live, peak
        with lock:
            live += 1
            peak = max(peak, live)
        time.sleep(0.15)
        with lock:
            live -= 1
        return Outcome("ok")

    results = run([check(f"c{i}", busy) for i in range(6)], concurrency=2)
    assert all(r.ok for r in results.values())
    assert peak == 2


def test_a_hanging_check_times_out_and_the_run_finishes(progress_lines):
    started = time.monotonic()
    results = run([check("stuck", hanging, timeout_s=0.5), check("fine", passing)], concurrency=2)
    elapsed = time.monotonic() - started
    assert results["stuck"].status is Status.ERROR
    assert results["stuck"].message.startswith("timed out after 0.5s")
    assert results["fine"].ok
    assert elapsed < 3.0
    assert any("stuck ERROR" in line for line in progress_lines)


def test_the_whole_run_is_bounded_by_its_timeout():
    checks = [check(f"stuck{i}", hanging, timeout_s=60) for i in range(3)]
    started = time.monotonic()
    results = run(checks, concurrency=2, timeout_s=0.5)
    assert time.monotonic() - started < 3.0
    statuses = sorted(r.status.value for r in results.values())
    assert statuses == ["ERROR"] * 3
    assert "not started: the whole run's timeout of 0.5s" in results["stuck2"].message
    assert results["stuck0"].message.startswith("timed out after 0.5s (the whole run's timeout")


def test_a_check_that_notices_its_deadline_reports_a_timeout():
    def cooperative(ctx: CheckContext):
        while not ctx.deadline.expired:
            time.sleep(0.02)
        raise CheckFailed("GET /health: not sent, the check's deadline has passed")

    result = run([check("slow", cooperative, timeout_s=0.3)])["slow"]
    assert result.status is Status.ERROR
    assert result.message.startswith("timed out after 0.3s: GET /health")


def throttled() -> bx.ClientError:
    return bx.ClientError(
        {
            "Error": {"Code": "ThrottlingException", "Message": "slow down"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        "DescribeTable",
    )


def not_found() -> bx.ClientError:
    return bx.ClientError(
        {
            "Error": {"Code": "ResourceNotFoundException", "Message": "gone"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        "DescribeTable",
    )


def test_aws_classifier_separates_transient_from_answers():
    assert is_transient_aws(throttled())
    assert is_transient_aws(bx.EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert not is_transient_aws(not_found())
    assert not is_transient_aws(ValueError("bug"))


def test_throttling_is_retried_then_succeeds(progress_lines):
    answers = [throttled(), throttled(), {"Table": {}}]

    def call():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    result = call_with_retry(
        call,
        what="dynamodb.describe_table",
        is_transient=is_transient_aws,
        deadline=Deadline(5),
        backoff=Backoff(base_s=0.01),
        log_line=log,  # what verify.aws passes: one progress line per retry
    )
    assert result == {"Table": {}}
    assert sum("retry dynamodb.describe_table" in line for line in progress_lines) == 2


def test_non_transient_aws_error_is_raised_at_once():
    calls = 0

    def call():
        nonlocal calls
        calls += 1
        raise not_found()

    with pytest.raises(bx.ClientError):
        call_with_retry(
            call,
            what="x",
            is_transient=is_transient_aws,
            deadline=Deadline(5),
            backoff=Backoff(base_s=0.01),
        )
    assert calls == 1


def test_exhausted_retries_name_the_call_and_the_last_error():
    def call():
        raise throttled()

    with pytest.raises(RetriesExhausted, match=r"dynamodb.describe_table: still failing after 3"):
        call_with_retry(
            call,
            what="dynamodb.describe_table",
            is_transient=is_transient_aws,
            deadline=Deadline(5),
            backoff=Backoff(attempts=3, base_s=0.01),
        )
