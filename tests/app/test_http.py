"""Cross-cutting HTTP behaviour: CORS, error shapes, request ids, structured logs, config."""

from __future__ import annotations

import io
import json
import logging

import pytest
from passport_app import ConfigError, load_settings
from passport_app.logs import JsonFormatter

from tests.support.api_calls import assert_error
from tests.support.app_env import APP_ENV

ALLOWED = "https://app.example.com"


def test_preflight_from_an_allowed_origin(client) -> None:
    response = client.options(
        "/api/v1/photos",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_disallowed_origin_gets_no_cors_headers(client) -> None:
    headers = {"Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"}
    preflight = client.options("/api/v1/photos", headers=headers)
    assert "Access-Control-Allow-Origin" not in preflight.headers
    actual = client.post("/api/v1/email/validate", json={}, headers={"Origin": headers["Origin"]})
    assert "Access-Control-Allow-Origin" not in actual.headers


def test_cors_on_real_responses_exposes_the_photo_headers(client) -> None:
    response = client.post(
        "/api/v1/email/validate", json={"email": "x"}, headers={"Origin": "http://localhost:3000"}
    )
    assert response.status_code == 400  # errors carry CORS headers too, or browsers hide them
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    exposed = response.headers["Access-Control-Expose-Headers"]
    assert "X-Passport-Face-Box" in exposed and "X-Request-Id" in exposed


def test_unknown_route_is_json_404(client) -> None:
    error = assert_error(client.get("/nope"), 404, "not_found")
    assert "/nope" in error["message"]


def test_wrong_method_is_json_405(client) -> None:
    response = client.delete("/api/v1/email/validate")
    assert_error(response, 405, "method_not_allowed")
    assert client.put("/health").status_code == 405


def test_request_id_is_propagated_or_generated(client) -> None:
    assert (
        client.get("/health", headers={"X-Request-Id": "trace-123"}).headers["X-Request-Id"]
        == "trace-123"
    )
    generated = client.get("/health", headers={"X-Request-Id": "not a safe id; <script>"}).headers[
        "X-Request-Id"
    ]
    assert len(generated) == 32 and generated.isalnum()


def test_one_json_log_line_per_request_with_its_id(client) -> None:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("passport_app")
    logger.addHandler(handler)
    try:
        client.get("/health", headers={"X-Request-Id": "log-check-1"})
        client.get("/api/v1/email/confirm", headers={"X-Request-Id": "log-check-2"})
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    requests = [line for line in lines if line["message"] == "request"]
    assert [r["request_id"] for r in requests] == ["log-check-1", "log-check-2"]
    assert requests[0]["status"] == 200 and requests[0]["path"] == "/health"
    assert requests[1]["status"] == 400 and requests[1]["error_code"] == "missing_token"
    assert all(isinstance(r["duration_ms"], float) for r in requests)


def test_settings_errors_list_every_problem() -> None:
    env = {"REMBG_MODEL": "u3net", "MAX_UPLOAD_MB": "500", "CORS_ALLOWED_ORIGINS": "*"}
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    message = str(info.value)
    for expected in (
        "EMAIL_TABLE: missing",
        "ANALYTICS_TABLE: missing",
        "MEDIA_BUCKET: missing",
        "SENDER_EMAIL: missing",
        "REMBG_MODEL: 'u3net'",
        "u2net, u2netp",
        "MAX_UPLOAD_MB: '500'",
        "CORS_ALLOWED_ORIGINS: '*'",
        "PUBLIC_BASE_URL: missing",
    ):
        assert expected in message


def test_abuse_settings_are_validated_and_the_public_host_is_always_allowed() -> None:
    settings = load_settings({**APP_ENV, "ALLOWED_HOSTS": ".eb.example.com"})
    assert settings.public_base_url == "https://photos.example.com"
    assert settings.allowed_hosts == ("photos.example.com", ".eb.example.com")
    assert (settings.email_resend_cooldown_s, settings.email_daily_cap) == (60, 5)
    assert settings.trusted_proxy_hops == 2
    bad = {
        **APP_ENV,
        "PUBLIC_BASE_URL": "https://photos.example.com/path",
        "RATE_LIMIT_CONFIRM": "lots",
        "EMAIL_DAILY_CAP": "0",
        "TRUSTED_PROXY_HOPS": "9",
    }
    with pytest.raises(ConfigError) as info:
        load_settings(bad)
    for name in ("PUBLIC_BASE_URL", "RATE_LIMIT_CONFIRM", "EMAIL_DAILY_CAP", "TRUSTED_PROXY_HOPS"):
        assert f"{name}: " in str(info.value)


def test_settings_defaults_and_parsing() -> None:
    settings = load_settings({**APP_ENV, "CORS_ALLOWED_ORIGINS": " https://a.example.com/ , "})
    assert settings.cors_allowed_origins == ("https://a.example.com",)
    assert settings.max_upload_bytes == 2 * 1024 * 1024
    assert settings.model_file.name == "u2netp.onnx" and settings.model_file.is_absolute()
    minimal = {k: APP_ENV[k] for k in ("EMAIL_TABLE", "ANALYTICS_TABLE", "MEDIA_BUCKET")}
    defaults = load_settings(
        {**minimal, "SENDER_EMAIL": "a@example.com", "PUBLIC_BASE_URL": "https://x.example.com"}
    )
    assert (defaults.rembg_model, defaults.max_upload_mb, defaults.app_version) == (
        "u2netp",
        10,
        "dev",
    )
    assert defaults.ses_configuration_set is None and defaults.cors_allowed_origins == ()
