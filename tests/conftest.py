"""Fixtures shared by every test folder: a real moto server on loopback for the whole session,
and a private sandbox state folder per module.

Helpers live in `tests/support/` (one module per job); test modules import from there, never
from another test module or a conftest.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# The repository root on sys.path before any project import (common.paths cannot say it yet).
REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from common.contracts import SANDBOX_AWS_ENV  # noqa: E402
from sandbox.moto_server import reset_moto, start_threaded_moto  # noqa: E402
from tests.support.sandbox_stacks import destroy_all  # noqa: E402

# Property tests: at least 100 examples everywhere, CI included.
settings.register_profile("default", max_examples=100, deadline=None)
settings.load_profile("default")

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real moto server (threaded, 127.0.0.1) and the AWS env vars pointing boto3 at it."""
    server, url = start_threaded_moto()
    saved = {
        k: os.environ.get(k)
        for k in [*SANDBOX_AWS_ENV, "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION"]
    }
    os.environ.update(SANDBOX_AWS_ENV)
    os.environ["AWS_ENDPOINT_URL"] = url
    os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ["AWS_REGION"] = REGION
    try:
        yield url
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture()
def clean_moto(moto_endpoint: str) -> str:
    """The session moto server, emptied before the test."""
    reset_moto(moto_endpoint)
    return moto_endpoint


@pytest.fixture(scope="module")
def state_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private sandbox state folder for the module: the suite never touches a developer's
    `.sandbox/`. Every stack still deployed in it afterwards is taken down, processes included."""
    root = tmp_path_factory.mktemp("sandbox-state")
    yield root
    destroy_all(root)
