"""``POST /api/v1/email/validate`` and ``GET /api/v1/email/confirm``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..aws import AWS_ERRORS, error_code
from ..email_validation import confirm, normalise_email, start_validation
from ..errors import ApiError
from ..logs import add_log_fields
from ..services import services
from ..storage import record_event

bp = Blueprint("email", __name__)


@bp.post("/api/v1/email/validate")
def validate() -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", 'send a JSON object like {"email": "you@example.com"}')
    email = normalise_email(body.get("email"))
    svc = services()
    pending = start_validation(svc.clients, svc.settings, email)
    if pending.status == "verified":
        # Verified stays verified: nothing is reset and nothing is sent.
        return jsonify({"status": "verified"})
    add_log_fields(ses_message_id=pending.message_id)
    _record_quietly("email_validation_requested")
    response = jsonify({"status": "pending"})
    response.status_code = 202
    return response


@bp.get("/api/v1/email/confirm")
def confirm_email() -> Response:
    svc = services()
    email = confirm(svc.clients, svc.settings, request.args.get("token"))
    _record_quietly("email_verified")
    return jsonify({"status": "verified", "email": email})


def _record_quietly(event_type: str) -> None:
    """Analytics must not fail the user's request: the email step already succeeded."""
    svc = services()
    try:
        record_event(svc.clients, svc.settings, event_type)
    except AWS_ERRORS as exc:
        add_log_fields(analytics_error=error_code(exc))
