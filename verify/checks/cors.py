"""cors: browsers from the configured origins may call the API; any other origin may not.

Asserts the app's behaviour against the *outputs'* origin list: a deployment whose app answers
`*` or some other list than the stack declares fails here.
"""

from __future__ import annotations

from verify.context import Check, CheckContext
from verify.model import Outcome, Problems

PATH = "/api/v1/photos"
SIMPLE_PATH = "/api/v1/email/confirm"  # a GET under /api/ (CORS covers the API, not /health)
DISALLOWED = "https://verify-probe.invalid"
WHERE = "CORS_ALLOWED_ORIGINS in the EB environment (components/, stack config corsAllowedOrigins)"


def preflight(ctx: CheckContext, origin: str):
    return ctx.http.options(
        PATH,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


def run(ctx: CheckContext) -> Outcome:
    problems = Problems()
    origins = [o.rstrip("/") for o in ctx.outputs["cors_allowed_origins"]]
    seen: dict[str, dict] = {}
    for origin in origins:
        resp = preflight(ctx, origin)
        allow = resp.headers.get("Access-Control-Allow-Origin")
        methods = resp.headers.get("Access-Control-Allow-Methods", "")
        seen[origin] = {"status": resp.status_code, "allow_origin": allow, "methods": methods}
        problems.expect(
            resp.status_code in (200, 204),
            f"preflight from {origin} status",
            "200/204",
            resp.status_code,
            WHERE,
        )
        problems.expect(
            allow == origin,
            f"preflight from {origin} Access-Control-Allow-Origin",
            repr(origin),
            repr(allow),
            WHERE,
        )
        allowed = {m.strip().upper() for m in methods.split(",") if m.strip()}
        problems.expect(
            "POST" in allowed,
            f"preflight from {origin} Access-Control-Allow-Methods",
            "to include POST",
            repr(methods),
            WHERE,
        )

    resp = preflight(ctx, DISALLOWED)
    allow = resp.headers.get("Access-Control-Allow-Origin")
    seen[DISALLOWED] = {"status": resp.status_code, "allow_origin": allow}
    problems.expect(
        allow is None,
        f"preflight from disallowed origin {DISALLOWED}",
        "no Access-Control-Allow-Origin",
        repr(allow),
        WHERE,
    )

    # The actual (non-preflight) request: allowed origins see their origin, others nothing.
    for origin in [*origins[:1], DISALLOWED]:
        get = ctx.http.get(SIMPLE_PATH, headers={"Origin": origin})
        got = get.headers.get("Access-Control-Allow-Origin")
        want = origin if origin != DISALLOWED else None
        seen.setdefault(origin, {})["simple_allow_origin"] = got
        problems.expect(
            got == want,
            f"GET {SIMPLE_PATH} from {'disallowed ' if want is None else ''}origin {origin}",
            repr(want) if want else "no Access-Control-Allow-Origin",
            repr(got),
            WHERE,
        )
    details = {"origins": seen}
    problems.raise_if_any(details)
    return Outcome(f"{len(origins)} allowed origin(s) answered, disallowed origin refused", details)


CHECK = Check(
    name="cors",
    run=run,
    description="preflight from each allowed origin matches; a disallowed origin gets none",
    requires=("api_url", "cors_allowed_origins"),
    timeout_s=30.0,
)
