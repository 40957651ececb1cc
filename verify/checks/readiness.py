"""readiness: wait for /health to answer 200 before anything else talks to the app.

A fresh EB environment (or a sandbox app still starting) refuses connections or answers
502/503/504 for a while; that is the one place where waiting is the right reaction. An app that
is up and *itself* reports unhealthy (JSON `"status": "unhealthy"`, e.g. its model failed to
load) gets a short settle period, then fails at once naming what it reported, instead of
burning the whole readiness timeout on an answer that will not change.
"""

from __future__ import annotations

import time
from typing import Any

import requests

from common.polling import Backoff, RetriesExhausted, call_with_retry
from verify.context import Check, CheckContext
from verify.http import TRANSIENT_STATUSES, WHERE_APP, describe
from verify.model import CheckFailed, Outcome, TlsFailed

#: Pauses between polls: 0.25 s doubling to 5 s. The check's deadline ends the wait (a poll
#: whose pause would pass it is not made); the attempt count only keeps 2**n in float range.
POLL = Backoff(attempts=1000, base_s=0.25, factor=2.0, max_s=5.0)
UNHEALTHY_SETTLE_S = 15.0
WHERE_MODEL = "the model file in the bundle (app/models/, REMBG_MODEL, U2NET_HOME) and app logs"


class NotReady(Exception):
    """An answer worth polling again: refused/reset, a gateway status, unhealthy while settling."""


def app_verdict(resp: Any) -> dict | None:
    """The app's own unhealthy report, or None when the answer is not from the app."""
    try:
        body = resp.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("status") == "unhealthy":
        return body
    return None


def explain(body: dict) -> str:
    """'model not loaded', 'dynamodb_email_table: ResourceNotFoundException', … from the body."""
    reasons = []
    for name in body.get("failed") or []:
        check = (body.get("checks") or {}).get(name) or {}
        if check.get("error"):
            reasons.append(f"{name}: {check['error']}")
        elif name == "model" and body.get("model_loaded") is False:
            reasons.append(f"model {body.get('model', '')} not loaded".replace("  ", " "))
        else:
            reasons.append(f"{name} failed")
    return "; ".join(reasons) or "no reason given"


class HealthPoll:
    """One readiness wait: each attempt is a GET /health; what it saw explains a timeout."""

    def __init__(self, ctx: CheckContext, settle_s: float) -> None:
        self.ctx = ctx
        self.settle_s = settle_s
        self.attempts = 0
        self.last = "no answer yet"
        self.first_unhealthy: float | None = None

    def get(self) -> requests.Response:
        """The 200; NotReady to poll again; CheckFailed for an answer that will not change."""
        self.attempts += 1
        try:
            resp = self.ctx.http.get("/health", retry=False, timeout_s=10.0)
        except TlsFailed:
            raise  # a certificate problem: permanent, never waited for
        except CheckFailed as exc:  # refused/reset/timeout: the environment may still be warming
            self.last = str(exc)
            raise NotReady(f"not ready ({self.last[:120]})") from exc
        if resp.status_code == 200:
            return resp
        self.last = describe(resp, 300)
        unhealthy = app_verdict(resp)
        if unhealthy is not None:
            self.first_unhealthy = self.first_unhealthy or time.monotonic()
            if time.monotonic() - self.first_unhealthy >= self.settle_s:
                raise CheckFailed(
                    f"GET /health: expected HTTP 200, the app reports unhealthy "
                    f"({explain(unhealthy)}) for {self.settle_s:g}s — check {WHERE_MODEL}",
                    {"health": unhealthy},
                )
        elif resp.status_code not in TRANSIENT_STATUSES:
            raise CheckFailed(
                f"GET /health: expected HTTP 200, got {self.last} — check {WHERE_APP}"
            )
        raise NotReady(f"not ready ({self.last[:120]})")


def run(ctx: CheckContext, settle_s: float | None = None) -> Outcome:
    # Settle: a quarter of the readiness timeout, at most UNHEALTHY_SETTLE_S.
    settle_s = (
        settle_s if settle_s is not None else min(UNHEALTHY_SETTLE_S, ctx.deadline.seconds / 4)
    )
    poll = HealthPoll(ctx, settle_s)
    started = time.monotonic()
    try:
        call_with_retry(
            poll.get,
            what="GET /health",
            is_transient=lambda exc: isinstance(exc, NotReady),
            deadline=ctx.deadline,
            backoff=POLL,
            log_line=ctx.log,
        )
    except RetriesExhausted as exc:
        raise CheckFailed(
            f"GET /health: expected HTTP 200 within {ctx.deadline.seconds:g}s, last answer "
            f"{poll.last} ({poll.attempts} attempts) — check {WHERE_APP}"
        ) from exc
    waited = time.monotonic() - started
    return Outcome(
        f"/health answered 200 after {waited:.2f}s ({poll.attempts} attempt(s))",
        {"waited_s": round(waited, 3), "attempts": poll.attempts},
    )


CHECK = Check(
    name="readiness",
    run=run,
    description="poll /health with backoff until it answers 200",
    requires=("api_url",),
    timeout_s=180.0,
)
