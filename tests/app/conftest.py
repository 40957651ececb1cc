"""Fixtures for the app tests: the real Flask app on the shared moto server, one model session.

``app/`` is put on sys.path here (and only here) so the Flask package imports as
``passport_app``, exactly as it does from the bundle root on an instance.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from common.paths import APP_DIR
from tests.support.app_env import APP_ENV, ensure_app_resources
from tests.support.served_bundle import ServedBundle, serve_built_bundle

if str(APP_DIR) not in sys.path:
    sys.path.append(str(APP_DIR))  # appended: app/ holds generic names (models, bundle)

from passport_app import create_app, load_settings  # noqa: E402
from passport_app.background import BackgroundRemover  # noqa: E402


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


@pytest.fixture(scope="module")
def served_bundle(
    moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ServedBundle]:
    """The bundle under gunicorn as EB runs it, on the session's moto, for one module.

    The app gets ``APP_ENV`` plus the requesting module's ``SERVED_BUNDLE_ENV`` (for example a
    small rate limit), so each module states what it changes and the serving stays in one place.
    """
    env = {**APP_ENV, **getattr(request.module, "SERVED_BUNDLE_ENV", {})}
    with serve_built_bundle(tmp_path_factory.mktemp("eb"), env) as served:
        yield served
