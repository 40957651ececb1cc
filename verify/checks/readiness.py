"""readiness: wait for /health to answer 200 before anything else talks to the app.

A fresh EB environment (or a sandbox app still loading its model) refuses connections or
answers 502/503 for a while; that is the one place where waiting is the right reaction.
"""

from __future__ import annotations

import time

from verify.context import Check, CheckContext
from verify.http import WHERE_APP, describe
from verify.model import CheckFailed, Outcome
from verify.retry import Backoff

POLL = Backoff(attempts=1000, base_s=0.25, factor=2.0, max_s=5.0)  # bounded by the deadline


def run(ctx: CheckContext) -> Outcome:
    started = time.monotonic()
    resp = ctx.http.get("/health", backoff=POLL, timeout_s=10.0)
    if resp.status_code != 200:
        raise CheckFailed(
            f"GET /health: expected HTTP 200 within {ctx.deadline.seconds:g}s, last answer "
            f"{describe(resp)} — check {WHERE_APP}"
        )
    waited = time.monotonic() - started
    return Outcome(f"/health answered 200 after {waited:.2f}s", {"waited_s": round(waited, 3)})


CHECK = Check(
    name="readiness",
    run=run,
    description="poll /health with backoff until it answers 200",
    requires=("api_url",),
    timeout_s=180.0,
)
