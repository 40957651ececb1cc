"""The app's source bundle served the way Elastic Beanstalk runs it, for tests over real HTTP.

Built by the real bundle builder, unzipped, and started from its own Procfile (gunicorn) on a
free loopback port, against whatever AWS the environment names (the session's moto).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.bundle import build_bundle
from app.dev_resources import serve_bundle
from sandbox.moto_server import free_port


@dataclass(frozen=True)
class ServedBundle:
    """A running bundle: its base URL, its port, the gunicorn log, the version it serves."""

    url: str
    port: int
    log: Path
    version_label: str


@contextmanager
def serve_built_bundle(workdir: Path, env: Mapping[str, str]) -> Iterator[ServedBundle]:
    """Build app/ into `workdir`, unzip it, serve it with `env` and its own label; stop it after."""
    bundle = build_bundle(out_dir=workdir / "out")
    current = workdir / "current"
    with zipfile.ZipFile(bundle.path) as zf:
        zf.extractall(current)
    port = free_port()
    log = workdir / "gunicorn.log"
    with serve_bundle(current, {**env, "APP_VERSION": bundle.version_label}, port, log) as url:
        yield ServedBundle(url, port, log, bundle.version_label)
