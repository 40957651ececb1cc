"""Fixtures for the sandbox tests: bundles of a changed and of a broken app version.

Each `up` starts a moto server and a gunicorn with rembg, so a deployed stack is shared per
module (in the module's private `state_root`, tests/conftest.py) and torn down (`destroy`) at
the end; nothing touches the user's `.sandbox/`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.app_variants import build_variant, cannot_start, new_version


@pytest.fixture(scope="session")
def changed_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_variant(tmp_path_factory.mktemp("changed"), new_version)


@pytest.fixture(scope="session")
def broken_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_variant(tmp_path_factory.mktemp("broken"), cannot_start)
