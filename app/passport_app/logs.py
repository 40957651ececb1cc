"""Structured JSON logs, one line per request, tied together by a request id.

EB ships stdout to CloudWatch Logs; one JSON object per line lets Logs Insights filter on fields
(status, duration_ms, request_id) instead of parsing text. The request id comes from the caller's
``X-Request-Id`` when it is a sane token (so a trace spans the load balancer, this app and the
client) or is generated, and is echoed back on every response.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-Id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_STD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line; ``extra={...}`` fields become top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context() and "request_id" in g:
            payload["request_id"] = g.request_id
        for key, value in vars(record).items():
            if key not in _STD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, separators=(",", ":"))


def configure_logging(level: int = logging.INFO) -> None:
    """Send the app's logs as JSON to stdout (idempotent: one handler however often called)."""
    logger = logging.getLogger("passport_app")
    logger.setLevel(level)
    if not any(getattr(h, "_passport_json", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        handler._passport_json = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.propagate = False


def request_id_from(header_value: str | None) -> str:
    """The caller's id when it is a safe token, otherwise a fresh one (never log raw input)."""
    if header_value and _SAFE_ID.match(header_value):
        return header_value
    return uuid.uuid4().hex


def install_request_logging(app: Flask) -> None:
    access = logging.getLogger("passport_app.access")

    @app.before_request
    def _start() -> None:
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.started = time.perf_counter()
        g.log_fields = {}

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id") or request_id_from(None)
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("started")
        duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
        fields = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": duration_ms,
            "client_net": client_network(request.remote_addr),
            "content_length": request.content_length,
            **g.get("log_fields", {}),
        }
        if response.status_code >= 400 and response.is_json:
            error = (response.get_json(silent=True) or {}).get("error") or {}
            fields["error_code"] = error.get("code")
        access.info("request", extra=fields)
        return response


def client_network(address: str | None) -> str | None:
    """The client's /24 (IPv4) or /48 (IPv6): enough to see abuse, not to identify a person."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def add_log_fields(**fields: Any) -> None:
    """Attach fields (format, face box, ...) to this request's access-log line."""
    if has_request_context():
        g.setdefault("log_fields", {}).update(fields)
