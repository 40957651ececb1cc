"""`serve_bundle` (how benchmarks and dev tools run a bundle): its failures name the cause."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.dev_resources import BENCH_APP_ENV, serve_bundle
from app.passport_app.config import REQUIRED
from sandbox.moto_server import free_port


def test_a_bundle_that_exits_at_once_reports_its_exit_and_log(tmp_path: Path) -> None:
    """Before: the cleanup's killpg on the exited group raised ProcessLookupError and hid why."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "Procfile").write_text(
        "web: python -c \"import sys; print('boot failed: no PUBLIC_BASE_URL'); sys.exit(3)\"\n"
    )
    serving = serve_bundle(bundle, {}, free_port(), tmp_path / "g.log", timeout=30)
    with pytest.raises(RuntimeError, match="exited 3") as caught, serving:
        pass
    assert "boot failed: no PUBLIC_BASE_URL" in str(caught.value)


def test_the_benchmark_environment_sets_every_variable_the_app_requires() -> None:
    """Before: PUBLIC_BASE_URL was missing, so `make bench`'s served parts never booted."""
    assert [name for name in REQUIRED if not BENCH_APP_ENV.get(name)] == []
