"""GET /health (shallow, for EB) and /health?deep=1 (every dependency)."""

from __future__ import annotations

from pathlib import Path

from passport_app import create_app, instance, load_settings

from tests.support.api_calls import assert_error, post_photo
from tests.support.app_env import APP_ENV, ensure_app_resources
from tests.support.photos import image_bytes, load_test_image


def test_shallow_health_is_ok(client, monkeypatch) -> None:
    monkeypatch.setenv("INSTANCE_ID", "i-0123456789abcdef0")  # as the sandbox fleet sets it
    monkeypatch.setattr(instance, "_cached", [])
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "version": APP_ENV["APP_VERSION"],
        "model": "u2netp",
        "model_loaded": True,
        "instance_id": "i-0123456789abcdef0",
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_deep_health_checks_every_dependency(client) -> None:
    response = client.get("/health?deep=1")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {
        "model",
        "dynamodb_email_table",
        "dynamodb_analytics_table",
        "s3_media_bucket",
    }
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["dynamodb_email_table"]["table"] == APP_ENV["EMAIL_TABLE"]


def test_deep_health_names_what_failed(moto_endpoint: str, remover) -> None:
    ensure_app_resources()
    env = {**APP_ENV, "ANALYTICS_TABLE": "missing-analytics", "MEDIA_BUCKET": "missing-media"}
    app = create_app(load_settings(env), remover=remover)
    with app.test_client() as client:
        assert client.get("/health").status_code == 200  # shallow: the model is fine
        response = client.get("/health?deep=1")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unhealthy"
    assert body["failed"] == ["dynamodb_analytics_table", "s3_media_bucket"]
    assert body["checks"]["dynamodb_analytics_table"]["error"] == "ResourceNotFoundException"
    assert body["checks"]["dynamodb_email_table"]["ok"] is True


def test_missing_model_starts_but_reports_and_refuses_photos(moto_endpoint: str, tmp_path: Path):
    ensure_app_resources()
    settings = load_settings({**APP_ENV, "U2NET_HOME": str(tmp_path)})
    app = create_app(settings)  # must not raise, and must not try to download
    with app.test_client() as client:
        health = client.get("/health")
        assert health.status_code == 503
        body = health.get_json()
        assert body["model_loaded"] is False and body["failed"] == ["model"]
        deep = client.get("/health?deep=1").get_json()
        assert "missing" in deep["checks"]["model"]["error"]
        assert str(tmp_path) not in deep["checks"]["model"]["error"]  # what, not where
        from PIL import Image

        error = assert_error(
            post_photo(client, image_bytes(Image.new("RGB", (200, 200))), "us"),
            503,
            "model_unavailable",
        )
        assert str(tmp_path) not in error["message"]  # errors say what, not where


def test_photo_storage_failure_is_503(moto_endpoint: str, remover) -> None:
    ensure_app_resources()
    app = create_app(load_settings({**APP_ENV, "MEDIA_BUCKET": "missing-media"}), remover=remover)
    with app.test_client() as client:
        error = assert_error(
            post_photo(client, load_test_image("astronaut.jpg"), "us"), 503, "storage_unavailable"
        )
    assert "NoSuchBucket" not in error["message"]  # no library codes in client errors
