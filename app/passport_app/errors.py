"""The one JSON error shape every failure uses: {"error": {"code", "message"}}.

Clients and the verify package branch on ``code``; ``message`` is for people. A photo refused
for several things at once also lists them all, most important first (the top-level code is
the first): {"error": {"code", "message", "reasons": [{"code", "message"}, ...]}}. Unexpected
exceptions become ``internal_error`` (logged with a traceback) so a client never sees an HTML
page or a stack trace.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

log = logging.getLogger("passport_app")


class ApiError(Exception):
    """A client-visible failure with a stable machine-readable code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: int | None = None,
        reasons: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.reasons = reasons


#: Longest piece of client input an error message may quote (errors say what, not where).
EXCERPT_CHARS = 40


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """At most ``limit`` characters of client input, marked when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_response(
    status: int,
    code: str,
    message: str,
    retry_after: int | None = None,
    reasons: list[dict[str, str]] | None = None,
) -> Response:
    body: dict = {"code": code, "message": message}
    if reasons:
        body["reasons"] = reasons
    response = jsonify({"error": body})
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(max(1, int(retry_after)))
    return response


#: Werkzeug's own HTTP errors mapped onto our codes (routing, methods, body limit).
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
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


_GENERIC = {
    400: "the request could not be understood",
    413: "the request body is too large",
    415: "this content type is not accepted",
}


def rate_limit_retry_after() -> int:
    """Seconds until the limit that was hit resets (Flask-Limiter records it on the request)."""
    for limiter in current_app.extensions.get("limiter", ()):
        try:
            current = limiter.current_limit
            if current is not None and current.breached:
                return max(1, int(current.reset_at - time.time()))
        except Exception:  # noqa: BLE001,S112 - a header hint is never worth a 500
            continue
    return 60


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.retry_after, exc.reasons)

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
        retry_after = None
        if status == 404:
            message = f"no route for {request.method} {excerpt(request.path)}"
        elif status == 405:
            allowed = sorted(m for m in (exc.valid_methods or []) if m != "OPTIONS")
            message = f"{request.method} is not allowed on {excerpt(request.path)}; allowed: " + (
                ", ".join(allowed)
            )
        elif status == 429:
            message = "too many requests from this client; slow down and retry later"
            retry_after = rate_limit_retry_after()
        else:
            # Our own words per status: werkzeug's descriptions can quote internals.
            message = _GENERIC.get(status, exc.name)
        response = error_response(status, code, message, retry_after)
        if status == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "an unexpected error occurred; it was logged")
