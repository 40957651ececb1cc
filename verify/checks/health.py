"""health: the version the outputs promise is the one serving, and its dependencies answer."""

from __future__ import annotations

from verify.checks import expect
from verify.context import Check, CheckContext
from verify.http import describe
from verify.model import Outcome, Problems

WHERE_VERSION = (
    "the EB environment's application version (`aws elasticbeanstalk describe-environments`, "
    "components/ app version) — a failed or still-running deployment serves the old bundle"
)


def reported_version(body: dict) -> object:
    for key in ("app_version", "version"):
        if key in body:
            return body[key]
    return None


def run(ctx: CheckContext) -> Outcome:
    problems = Problems()
    want = ctx.outputs["app_version"]

    resp = ctx.http.get("/health")
    expect.status(resp, 200, "GET /health")
    body = expect.json_object(resp, "GET /health")
    seen = reported_version(body)
    problems.expect(seen == want, "GET /health app version", repr(want), repr(seen), WHERE_VERSION)
    model_loaded = body.get("model_loaded")
    if model_loaded is not None:
        problems.expect(
            model_loaded is True,
            "GET /health model_loaded",
            "true",
            repr(model_loaded),
            "the model file in the bundle (app/models/, U2NET_HOME/REMBG_MODEL env) and app logs",
        )

    deep = ctx.http.get("/health", params={"deep": "1"}, retry=False)
    deep_body = None
    if deep.status_code != 200:
        problems.add(
            f"GET /health?deep=1: expected HTTP 200 (DynamoDB, S3 and model reachable), got "
            f"{describe(deep, 400)} — check the failing dependency it names and the instance "
            "role's permissions (components/)"
        )
    else:
        deep_body = expect.json_object(deep, "GET /health?deep=1")

    details = {"health": body, "deep": deep_body}
    problems.raise_if_any(details)
    return Outcome(f"serving {want}; deep health 200", details)


CHECK = Check(
    name="health",
    run=run,
    description="/health is 200 with the deployed app_version; ?deep=1 is 200",
    requires=("api_url", "app_version"),
    timeout_s=30.0,
)
