"""Running a deliberately broken build of the real app beside a sandbox deployment.

Some faults live in the app process rather than in AWS resources (model missing, CORS opened
to every origin, a geometry regression). The sandbox refuses to switch to a build that never
gets healthy (as EB would), so these builds are started here directly with gunicorn, with the
environment the EB option settings give the app (docs/contracts.md), against the same moto.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from common.contracts import SANDBOX_AWS_ENV
from common.paths import APP_DIR
from sandbox.moto_server import free_port

GUNICORN = Path(sys.executable).parent / "gunicorn"

#: Entry modules for broken builds: each imports the real app and breaks one thing.
OPEN_CORS = """
from flask_cors import CORS
from application import application

CORS(application, origins="*")  # the regression: every origin may call the API (reflected)
"""

WRONG_US_SIZE = """
import dataclasses
from passport_app import formats

formats.FORMATS["us"] = dataclasses.replace(formats.FORMATS["us"], width=560)
from application import application  # noqa: E402
"""


def app_env(outputs: Mapping[str, Any], aws_endpoint: str) -> dict[str, str]:
    """The app's environment as the EB environment sets it, from the stack outputs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST"))}
    env.update(SANDBOX_AWS_ENV)
    env.update(
        APP_VERSION=str(outputs["app_version"]),
        EMAIL_TABLE=outputs["email_table"],
        ANALYTICS_TABLE=outputs["analytics_table"],
        MEDIA_BUCKET=outputs["media_bucket"],
        SENDER_EMAIL=outputs["sender_email"],
        SES_CONFIGURATION_SET=outputs["ses_configuration_set"],
        CORS_ALLOWED_ORIGINS=",".join(outputs["cors_allowed_origins"]),
        REMBG_MODEL="u2netp",
        U2NET_HOME="models",
        MAX_UPLOAD_MB=str(outputs["max_upload_mb"]),
        AWS_REGION=outputs["region"],
        AWS_DEFAULT_REGION=outputs["region"],
        AWS_ENDPOINT_URL=aws_endpoint,
        PUBLIC_BASE_URL="https://photos.example.com",
        ALLOWED_HOSTS="127.0.0.1",  # what the sandbox adds for its front address
        WEB_CONCURRENCY="1",  # one worker: these builds only answer a handful of requests
    )
    return env


@contextmanager
def broken_app(
    outputs: Mapping[str, Any],
    aws_endpoint: str,
    tmp: Path,
    *,
    entry_source: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Start the app (optionally via a breaking entry module); yield its URL; stop it."""
    port = free_port()
    environment = {**app_env(outputs, aws_endpoint), **(env or {}), "PORT": str(port)}
    entry = "application:application"
    if entry_source is not None:
        (tmp / "broken_entry.py").write_text(entry_source)
        environment["PYTHONPATH"] = f"{tmp}{os.pathsep}{APP_DIR}"
        entry = "broken_entry:application"
    log = tmp / "broken_app.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [str(GUNICORN), "--config", "gunicorn.conf.py", entry],
            cwd=APP_DIR,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"broken app exited early:\n{log.read_text()[-2000:]}")
            try:
                requests.get(f"{url}/health", timeout=2)  # any answer: it is serving
                break
            except (requests.ConnectionError, requests.Timeout):
                # refused before the master binds; a timeout while its workers still boot
                time.sleep(0.3)
        else:
            raise RuntimeError(f"broken app never answered:\n{log.read_text()[-2000:]}")
        yield url
    finally:
        # A throwaway build: ask once, then kill the group. gunicorn's graceful stop sometimes
        # waits out graceful_timeout (30 s) here, which would only slow the suite down.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
