"""Fixtures for the app tests: the real Flask app on the shared moto server, one model session.

``app/`` is put on sys.path here (and only here) so the Flask package imports as
``passport_app``, exactly as it does from the bundle root on an instance.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "app"
if str(APP_DIR) not in sys.path:
    sys.path.append(str(APP_DIR))  # appended: app/ holds generic names (models, bundle)

from passport_app import create_app, load_settings  # noqa: E402
from passport_app.background import BackgroundRemover  # noqa: E402

from app.dev_resources import ensure_app_resources as create_resources  # noqa: E402

TEST_IMAGES = ROOT / "test_images"
MANIFEST = json.loads((TEST_IMAGES / "manifest.json").read_text())
PORTRAITS = [i["file"] for i in MANIFEST["images"] if i["kind"] == "portrait"]
NO_FACES = [i["file"] for i in MANIFEST["images"] if i["kind"] == "no_face"]

APP_ENV = {
    "APP_VERSION": "v-test",
    "EMAIL_TABLE": "test-passport-emails",
    "ANALYTICS_TABLE": "test-passport-analytics",
    "MEDIA_BUCKET": "test-passport-media",
    "SENDER_EMAIL": "noreply@passport.example.com",
    "SES_CONFIGURATION_SET": "test-passport-mail",
    "CORS_ALLOWED_ORIGINS": "https://app.example.com,http://localhost:3000",
    "REMBG_MODEL": "u2netp",
    "U2NET_HOME": "models",
    "MAX_UPLOAD_MB": "2",
    "AWS_REGION": "us-east-1",
    "PUBLIC_BASE_URL": "https://photos.example.com",
    "ALLOWED_HOSTS": "localhost,127.0.0.1",
}


def ensure_app_resources(env: dict[str, str] = APP_ENV) -> None:
    """The app's tables/bucket/identity on moto. Called per test: another suite's
    ``clean_moto`` may have reset the shared server meanwhile."""
    create_resources(env)


@pytest.fixture(scope="session")
def remover() -> BackgroundRemover:
    """The u2netp session, loaded once for the whole test session."""
    settings = load_settings(APP_ENV)
    if not settings.model_file.is_file():
        pytest.fail(f"{settings.model_file} is missing: run `make models` (or `make setup`)")
    loaded = BackgroundRemover(settings.rembg_model, settings.model_file, threads=2)
    assert loaded.load(), loaded.error
    return loaded


@pytest.fixture(scope="session")
def flask_app(moto_endpoint: str, remover: BackgroundRemover):
    """The real app, configured like an EB environment, its boto3 clients pointed at moto."""
    return create_app(load_settings(APP_ENV), remover=remover)


@pytest.fixture()
def client(flask_app) -> Iterator:
    """A test client with the app's AWS resources present in moto."""
    ensure_app_resources()
    for limiter in flask_app.extensions.get("limiter", ()):
        limiter.reset()  # one test's requests must not spend the next one's per-client budget
    with flask_app.test_client() as test_client:
        yield test_client


def image_bytes(image: Image.Image, fmt: str = "JPEG", **save_args) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save_args)
    return buffer.getvalue()


def load_test_image(name: str) -> bytes:
    return (TEST_IMAGES / name).read_bytes()
