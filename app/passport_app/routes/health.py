"""``GET /health`` (fast, polled by EB) and ``GET /health?deep=1`` (checks every dependency).

Shallow health answers 503 when the background-removal model is not loaded: such an instance
cannot do its main job, and EB must see it as unhealthy so a bundle without its model fails the
deployment's health check (and an Immutable/rolling deployment is rolled back) instead of
serving 503s. The deep check adds DynamoDB (both tables ACTIVE) and S3 (media bucket reachable),
with short timeouts; verification calls it, EB does not.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..aws import AWS_ERRORS, error_code
from ..instance import instance_id
from ..services import services

bp = Blueprint("health", __name__)


def _check_table(name: str) -> dict:
    try:
        table = services().clients.dynamodb.describe_table(TableName=name)["Table"]
    except AWS_ERRORS as exc:
        return {"ok": False, "table": name, "error": error_code(exc)}
    status = table.get("TableStatus")
    return {"ok": status == "ACTIVE", "table": name, "status": status}


def _check_bucket(name: str) -> dict:
    try:
        services().clients.s3.head_bucket(Bucket=name)
    except AWS_ERRORS as exc:
        return {"ok": False, "bucket": name, "error": error_code(exc)}
    return {"ok": True, "bucket": name}


@bp.get("/health")
def health() -> Response:
    svc = services()
    remover = svc.remover
    body: dict = {
        "status": "ok",
        "version": svc.settings.app_version,
        "model": remover.model_name,
        "model_loaded": remover.loaded,
        "instance_id": instance_id(),
    }
    checks: dict[str, dict] = {
        "model": {"ok": remover.loaded, "name": remover.model_name}
        | ({"error": _public_model_error(remover.error)} if remover.error else {})
    }
    if request.args.get("deep", "").lower() in ("1", "true", "yes"):
        settings = svc.settings
        checks["dynamodb_email_table"] = _check_table(settings.email_table)
        checks["dynamodb_analytics_table"] = _check_table(settings.analytics_table)
        checks["s3_media_bucket"] = _check_bucket(settings.media_bucket)
        body["checks"] = checks
    failed = sorted(name for name, check in checks.items() if not check["ok"])
    if failed:
        body["status"] = "unhealthy"
        body["failed"] = failed
    response = jsonify(body)
    response.status_code = 503 if failed else 200
    response.headers["Cache-Control"] = "no-store"
    return response


def _public_model_error(error: str) -> str:
    """What went wrong with the model, without the server path (the instance log has it)."""
    what = "missing" if "missing" in error else "failed to load"
    return f"the model file is {what}; details in the instance log"
