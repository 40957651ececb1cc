"""The bundle as EB runs it: unzip, run the Procfile's command with PORT set, talk HTTP."""

from __future__ import annotations

import pytest
import requests

from tests.support.app_env import ensure_app_resources
from tests.support.photo_checks import judge_faces, open_jpeg
from tests.support.photos import load_test_image
from tests.support.served_bundle import ServedBundle

pytestmark = pytest.mark.slow


def test_health_over_http(served_bundle: ServedBundle) -> None:
    ensure_app_resources()
    body = requests.get(f"{served_bundle.url}/health?deep=1", timeout=10).json()
    assert body["status"] == "ok" and body["model_loaded"] is True
    assert body["version"].startswith("v-")


def test_photo_over_http(served_bundle: ServedBundle) -> None:
    ensure_app_resources()
    response = requests.post(
        f"{served_bundle.url}/api/v1/photos",
        files={"image": ("grace.jpg", load_test_image("grace_hopper.jpg"), "image/jpeg")},
        # Cap + glasses: the eu rules accept a declared religious covering (and clear glasses).
        data={"format": "eu", "head_covering": "religious"},
        headers={"X-Request-Id": "gunicorn-test-1"},
        timeout=60,
    )
    assert response.status_code == 200, response.text[:300]
    assert response.headers["X-Request-Id"] == "gunicorn-test-1"
    assert response.headers["X-Passport-Format"] == "eu"
    assert "declaration" in response.headers["X-Passport-Statement"]
    photo = open_jpeg(response.content)
    assert photo.size == (413, 531) and len(judge_faces(photo)) == 1


def test_over_limit_upload_gets_a_readable_json_413(served_bundle: ServedBundle) -> None:
    big = b"\xff" * (3 * 1024 * 1024)  # MAX_UPLOAD_MB is 2 in APP_ENV
    response = requests.post(
        f"{served_bundle.url}/api/v1/photos", files={"image": ("big.jpg", big)}, timeout=60
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_errors_are_json_over_http(served_bundle: ServedBundle) -> None:
    response = requests.post(f"{served_bundle.url}/api/v1/email/validate", data="x", timeout=10)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
