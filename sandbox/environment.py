"""The Elastic Beanstalk environment, realised locally the way EB deploys an app version.

EB: download the version's source bundle from S3, unpack it, run the Procfile's `web:` process
with the environment properties from the option settings, health-check it, and only then put it
behind the environment's CNAME. Here: the bundle comes from the moto artifact bucket, is
unpacked under `.sandbox/<stack>/releases/<label>/`, and `web:` runs with the *project venv*
(nothing is installed: the venv already holds app/requirements.txt) on a fresh loopback port,
detached so it outlives the CLI. Once `/health` answers 200 the front proxy (sandbox/proxy.py)
is pointed at it and the previous version is stopped: blue/green. If the new version never
gets healthy it is stopped, the old one keeps serving, and the deployment fails with the
reason and the tail of its log.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from commandline.interrupts import cancelled
from sandbox import processes
from sandbox.errors import SandboxError
from sandbox.state import SandboxState, utc_timestamp, write_json_atomic

NS_APP_ENV = "aws:elasticbeanstalk:application:environment"
HEALTH_PATH = "/health"
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class AppRuntime:
    """How app processes are run for this stack."""

    project_dir: Path
    endpoint_url: str
    region: str
    credentials: Mapping[str, str]
    health_timeout: float = 120.0

    @property
    def venv_bin(self) -> Path:
        """The project venv's bin folder (falls back to this interpreter's)."""
        candidate = self.project_dir / ".venv" / "bin"
        return candidate if candidate.is_dir() else Path(sys.executable).parent


def environment_properties(settings: list[Mapping[str, Any]] | None) -> dict[str, str]:
    """The `aws:elasticbeanstalk:application:environment` option settings as env vars."""
    return {
        str(s["name"]): str(s.get("value", ""))
        for s in settings or []
        if s.get("namespace") == NS_APP_ENV
    }


def web_command(release: Path) -> str:
    """The Procfile's `web:` command (EB runs exactly this)."""
    procfile = release / "Procfile"
    if not procfile.is_file():
        raise SandboxError(f"bundle {release.name} has no Procfile; EB needs a 'web:' process")
    for line in procfile.read_text(encoding="utf-8").splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() == "web" and command.strip():
            return command.strip()
    raise SandboxError(f"bundle {release.name}: Procfile has no 'web:' process")


def expand(command: str, env: Mapping[str, str]) -> list[str]:
    """Split a Procfile command and substitute $VAR / ${VAR} from the process environment."""
    substituted = re.sub(
        r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m.group(1), ""), command
    )
    return shlex.split(substituted)


def unpack(bundle: Path, dest: Path) -> None:
    """Extract a source bundle, refusing members that would land outside `dest` (zip slip)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    root = dest.resolve()
    try:
        with zipfile.ZipFile(bundle) as archive:
            for member in archive.infolist():
                target = (root / member.filename).resolve()
                if root not in target.parents and target != root:
                    raise SandboxError(f"bundle member {member.filename!r} escapes the bundle")
            archive.extractall(root)
    except zipfile.BadZipFile as exc:
        raise SandboxError(f"source bundle {bundle.name} is not a valid zip: {exc}") from exc


def check_health(url: str, timeout: float = 3.0) -> tuple[int | None, dict[str, Any] | str]:
    """GET <url>/health → (status, parsed JSON body or error text)."""
    try:
        # Safe: an http:// loopback URL of a process we started.
        with urllib.request.urlopen(f"{url}{HEALTH_PATH}", timeout=timeout) as resp:  # noqa: S310  # nosec B310
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        return None, str(getattr(exc, "reason", exc))
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")[:200]


class EnvironmentRunner:
    """Applications, versions and the running environment of one stack (state in sandbox.json)."""

    def __init__(
        self,
        state: SandboxState,
        runtime: AppRuntime,
        s3_client: Callable[[], Any],
        free_port: Callable[[], int],
        front_port: int,
    ) -> None:
        self.state = state
        self.front_port = front_port
        self.runtime = runtime
        self._s3 = s3_client
        self._free_port = free_port
        self.last_deploy: dict[str, Any] | None = None

    # -- records --------------------------------------------------------------------------

    def record_application(self, name: str, description: str) -> None:
        with self.state.update() as data:
            data["eb"]["applications"].setdefault(name, {"created": utc_timestamp()})
            data["eb"]["applications"][name]["description"] = description

    def record_version(self, application: str, label: str, bucket: str, key: str) -> None:
        """EB checks the bundle exists when a version is created; so do we."""
        s3 = self._s3()
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            raise SandboxError(
                f"application version {label}: source bundle s3://{bucket}/{key} not found ({exc})"
            ) from exc
        with self.state.update() as data:
            versions = data["eb"]["versions"].setdefault(application, {})
            versions.setdefault(label, {"created": utc_timestamp()})
            versions[label].update(bucket=bucket, key=key)

    # -- the environment --------------------------------------------------------------------

    def front_address(self) -> str:
        """The environment's CNAME equivalent: the stable front proxy, host:port."""
        return f"{LOOPBACK}:{self.front_port}"

    def current(self) -> dict[str, Any] | None:
        return self.state.get("app")

    def deploy(
        self, environment: str, application: str, label: str, settings: list[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Make `label` with `settings` the live version of `environment` (no-op if it is)."""
        env_vars = environment_properties(settings)
        # The moto endpoint is part of the process environment: a restarted moto (new port)
        # means the running app points at nothing and must be redeployed.
        env_hash = hashlib.sha256(
            json.dumps([env_vars, self.runtime.endpoint_url], sort_keys=True).encode()
        ).hexdigest()
        current = self.current()
        if (
            current
            and current.get("version") == label
            and current.get("env_hash") == env_hash
            and processes.is_alive(processes.ProcessRecord.from_dict(current.get("process")))
        ):
            self.last_deploy = {"app_version": label, "action": "unchanged"}
            return current
        version = self.state.get("eb", "versions", application, label)
        if not version:
            raise SandboxError(f"environment {environment}: unknown application version {label!r}")

        release = self._release_dir(version, label, current)
        started = time.monotonic()
        record, port = self._start(release, label, env_vars)
        try:
            self._wait_healthy(record, port, label)
        except SandboxError as exc:
            processes.stop(record)
            self.last_deploy = {
                "app_version": label,
                "action": "failed",
                "port": port,
                "log": record.log,
                "error": str(exc),
            }
            raise
        self._switch(port)
        new = {
            "environment": environment,
            "application": application,
            "version": label,
            "env_hash": env_hash,
            "port": port,
            "release_dir": str(release),
            "process": record.to_dict(),
            "started_at": utc_timestamp(),
            "healthy_after_s": round(time.monotonic() - started, 2),
        }
        with self.state.update() as data:
            data["app"] = new
        if current:
            processes.stop(processes.ProcessRecord.from_dict(current.get("process")))
            old_dir = current.get("release_dir")
            if old_dir and old_dir != str(release):
                shutil.rmtree(old_dir, ignore_errors=True)
        self.last_deploy = {
            "app_version": label,
            "action": "replaced" if current else "created",
            "previous_version": current.get("version") if current else None,
            "port": port,
            "healthy_after_s": new["healthy_after_s"],
        }
        return new

    def _release_dir(
        self, location: Mapping[str, Any], label: str, current: dict[str, Any] | None
    ) -> Path:
        """Fetch the version's bundle from the artifact bucket and unpack it (fresh folder)."""
        releases = self.state.paths.releases
        releases.mkdir(parents=True, exist_ok=True)
        # A running version's folder must not be swapped under it: a redeploy of the same label
        # (changed settings) unpacks into a second folder.
        dest = releases / label
        if current and current.get("release_dir") == str(dest):
            dest = releases / f"{label}-{int(time.time() * 1000)}"
        zip_path = releases / f"{label}.zip"
        obj = self._s3().get_object(Bucket=location["bucket"], Key=location["key"])
        zip_path.write_bytes(obj["Body"].read())
        unpack(zip_path, dest)
        zip_path.unlink()
        return dest

    def _child_env(self, env_vars: Mapping[str, str], port: int) -> dict[str, str]:
        """Only what EB would give the process: option-setting env vars + platform basics."""
        runtime = self.runtime
        env = {
            "PATH": f"{runtime.venv_bin}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108  # nosec B108
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "PYTHONUNBUFFERED": "1",
            "VIRTUAL_ENV": str(runtime.venv_bin.parent),
            **env_vars,
            **runtime.credentials,
            "AWS_ENDPOINT_URL": runtime.endpoint_url,
            "AWS_REGION": env_vars.get("AWS_REGION", runtime.region),
            "AWS_DEFAULT_REGION": env_vars.get("AWS_REGION", runtime.region),
            "PORT": str(port),
        }
        # gunicorn 27 puts a control socket in $XDG_RUNTIME_DIR (else ~/.gunicorn/): give each
        # process its own, so blue and green (and other stacks) never share one.
        run_dir = self.state.paths.dir / "run" / str(port)
        run_dir.mkdir(parents=True, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(run_dir)
        return env

    def _start(
        self, release: Path, label: str, env_vars: Mapping[str, str]
    ) -> tuple[processes.ProcessRecord, int]:
        port = self._free_port()
        env = self._child_env(env_vars, port)
        argv = expand(web_command(release), env)
        exe = shutil.which(argv[0], path=env["PATH"])
        if exe is None:
            raise SandboxError(
                f"'{argv[0]}' (the Procfile's web command) is not installed in "
                f"{self.runtime.venv_bin}; run `make setup`"
            )
        log = self.state.paths.logs / f"app-{label}.log"
        record, _ = processes.spawn([exe, *argv[1:]], cwd=release, env=env, log=log)
        # On disk before the health wait, so `down` finds it even if this process dies now.
        with self.state.update() as data:
            data.setdefault("starting", []).append(record.to_dict())
        return record, port

    def _wait_healthy(self, record: processes.ProcessRecord, port: int, label: str) -> None:
        url = f"http://{LOOPBACK}:{port}"
        deadline = time.monotonic() + self.runtime.health_timeout
        last: Any = "no answer yet"
        try:
            while time.monotonic() < deadline:
                if cancelled():  # a signal: undo (stop the new version), the old one serves on
                    raise SandboxError(
                        f"deployment of {label} cancelled before it became healthy; the "
                        "previous version keeps serving"
                    )
                if not processes.is_alive(record):
                    cause = processes.first_error(record.log) or "see the log"
                    raise SandboxError(
                        f"app version {label} exited before becoming healthy ({cause}); the "
                        f"previous version keeps serving. Last lines of {record.log}:\n"
                        f"{processes.tail(record.log)}"
                    )
                status, body = check_health(url)
                if status == 200:
                    return
                last = f"HTTP {status}: {body}" if status else body
                time.sleep(0.25)
            cause = processes.first_error(record.log)
            raise SandboxError(
                f"app version {label} did not answer {HEALTH_PATH} with 200 within "
                f"{self.runtime.health_timeout:.0f}s (last: {last}"
                + (f"; first error: {cause}" if cause else "")
                + f"); the previous version keeps serving. Last lines of {record.log}:\n"
                f"{processes.tail(record.log)}"
            )
        finally:
            with self.state.update() as data:
                starting = data.get("starting", [])
                data["starting"] = [p for p in starting if p.get("pid") != record.pid]

    def _switch(self, port: int) -> None:
        write_json_atomic(self.state.paths.proxy_target, port)
