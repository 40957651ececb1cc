"""Fixtures shared by every test folder: a real moto server on loopback for the whole session,
and a private sandbox state folder per module.

Helpers live in `tests/support/` (one module per job); test modules import from there, never
from another test module or a conftest.
"""

from __future__ import annotations

import json
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
from tests.support.scheduling import longest_files_first  # noqa: E402

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


# -- scheduling: longest test files first -------------------------------------------------------
# `make test` runs --dist loadfile: each file goes whole to one worker, in collection order. A
# long file collected last (the README walk sorts last) makes the run's tail: one worker busy
# minutes after the others ran out of work. So files start longest first, by the seconds they
# took in a recent full run (tests/durations.json, refreshed by `make durations` from the
# per-file totals every run writes to build/test-durations.json, as pytest-split does); a file
# not listed yet comes after the listed ones. Within a file the order is kept.
DURATIONS = REPO / "tests" / "durations.json"
MEASURED = REPO / "build" / "test-durations.json"
_seconds_by_file: dict[str, float] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.pluginmanager.has_plugin("randomly"):
        return  # RANDOM_ORDER=1: the shuffled order is the point
    known = json.loads(DURATIONS.read_text()) if DURATIONS.is_file() else {}
    items[:] = longest_files_first(items, known)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::")[0]
    _seconds_by_file[path] = _seconds_by_file.get(path, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput") or not _seconds_by_file:
        return  # an xdist worker: the controller sees every report and writes the totals
    MEASURED.parent.mkdir(parents=True, exist_ok=True)
    totals = {path: round(seconds, 1) for path, seconds in sorted(_seconds_by_file.items())}
    MEASURED.write_text(json.dumps(totals, indent=1) + "\n")
