"""The bundle as EB runs it: unzip, run the Procfile's command with PORT set, talk HTTP."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator

import pytest
import requests

from app.bundle import build_bundle
from app.dev_resources import serve_bundle
from sandbox.moto_server import free_port

from .checks import judge_faces, open_jpeg
from .conftest import APP_ENV, ensure_app_resources, load_test_image

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served_bundle(moto_endpoint: str, tmp_path_factory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("eb")
    bundle = build_bundle(out_dir=root / "out")
    current = root / "current"
    with zipfile.ZipFile(bundle.path) as zf:
        zf.extractall(current)
    env = {**APP_ENV, "APP_VERSION": bundle.version_label}
    with serve_bundle(current, env, free_port(), root / "gunicorn.log") as url:
        yield url


def test_health_over_http(served_bundle: str) -> None:
    ensure_app_resources()
    body = requests.get(f"{served_bundle}/health?deep=1", timeout=10).json()
    assert body["status"] == "ok" and body["model_loaded"] is True
    assert body["version"].startswith("v-")


def test_photo_over_http(served_bundle: str) -> None:
    ensure_app_resources()
    response = requests.post(
        f"{served_bundle}/api/v1/photos",
        files={"image": ("grace.jpg", load_test_image("grace_hopper.jpg"), "image/jpeg")},
        data={"format": "eu"},
        headers={"X-Request-Id": "gunicorn-test-1"},
        timeout=60,
    )
    assert response.status_code == 200, response.text[:300]
    assert response.headers["X-Request-Id"] == "gunicorn-test-1"
    assert response.headers["X-Passport-Format"] == "eu"
    photo = open_jpeg(response.content)
    assert photo.size == (413, 531) and len(judge_faces(photo)) == 1


def test_over_limit_upload_gets_a_readable_json_413(served_bundle: str) -> None:
    big = b"\xff" * (3 * 1024 * 1024)  # MAX_UPLOAD_MB is 2 in APP_ENV
    response = requests.post(
        f"{served_bundle}/api/v1/photos", files={"image": ("big.jpg", big)}, timeout=60
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_errors_are_json_over_http(served_bundle: str) -> None:
    response = requests.post(f"{served_bundle}/api/v1/email/validate", data="x", timeout=10)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
