"""The one JSON error shape every failure uses: {"error": {"code", "message"}}.

Clients and the verify package branch on ``code``; ``message`` is for people. Unexpected
exceptions become ``internal_error`` (logged with a traceback) so a client never sees an HTML
page or a stack trace.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

log = logging.getLogger("passport_app")


class ApiError(Exception):
    """A client-visible failure with a stable machine-readable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


#: Werkzeug's own HTTP errors mapped onto our codes (routing, methods, body limit).
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}

#: Drain at most this much of an over-limit body so the client can read our 413 instead of a
#: connection reset; beyond it, closing the connection is cheaper than reading.
_DRAIN_LIMIT = 128 * 1024 * 1024


def drain_request_body() -> None:
    """Read and discard the rest of the request body.

    Answering before the upload is consumed makes many clients (and gunicorn's keep-alive) see
    a reset instead of the JSON error; reading it is the price of a readable 413.
    """
    length = request.content_length
    if length is None or length > _DRAIN_LIMIT:
        return
    stream = request.environ.get("wsgi.input")
    if stream is None:
        return
    remaining = length
    try:
        while remaining > 0:
            chunk = stream.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
    except (OSError, ValueError):  # client went away; nothing to answer
        return


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Response:
        drain_request_body()
        limit_mb = app.config["MAX_UPLOAD_MB"]
        return error_response(
            413, "payload_too_large", f"the upload exceeds the {limit_mb} MB limit (MAX_UPLOAD_MB)"
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = _HTTP_CODES.get(status, "http_error")
        if status == 404:
            message = f"no route for {request.method} {request.path}"
        elif status == 405:
            allowed = sorted(m for m in (exc.valid_methods or []) if m != "OPTIONS")
            message = f"{request.method} is not allowed on {request.path}; allowed: " + ", ".join(
                allowed
            )
        else:
            message = exc.description or exc.name
        response = error_response(status, code, message)
        if status == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "an unexpected error occurred; it was logged")
