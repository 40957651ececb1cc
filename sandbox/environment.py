"""The Elastic Beanstalk environment, realised locally the way EB deploys an app version.

EB: download the version's source bundle from S3, unpack it, run the Procfile's `web:` process
with the environment properties from the option settings, health-check it, and only then put it
behind the environment's CNAME. Here: the bundle comes from the moto artifact bucket, is
unpacked under `.sandbox/<stack>/releases/<label>/`, its requirements.txt is installed into a
venv as EB's pip would (sandbox/bundle_venv.py: offline, cached by the lock's digest; a
dependency the bundle lacks fails the deployment naming it), and `web:` runs from that venv
on a fresh loopback port,
detached so it outlives the CLI: one process per instance of the fleet (`MinSize` of the
`aws:autoscaling:asg` settings), each named like an EC2 instance (`INSTANCE_ID` in its
environment, which `/health` reports), all behind the stack's proxy (sandbox/proxy.py, the
sandbox's load balancer). Reading the Procfile and waiting for health is common/procfile.py,
shared with the app's dev tools.
New versions roll out by the environment's `DeploymentPolicy` (sandbox/fleet.py): AllAtOnce
(in place, the gap measured), Rolling / RollingWithAdditionalBatch (by batches) and Immutable
(a full new set healthy before the old one drains) and TrafficSplitting (the new set takes a
share of the requests for the evaluation time first). If the new version never gets healthy its
instances are stopped, the old version keeps serving, and the deployment fails with the reason
and the tail of its log.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from commandline.interrupts import cancelled
from common.procfile import (
    HEALTH_PATH,
    HealthCancelled,
    HealthTimeout,
    ProcessExited,
    ProcfileError,
    wait_healthy,
    web_argv,
)
from sandbox import processes
from sandbox.bundle_venv import install_bundle
from sandbox.errors import SandboxError
from sandbox.fleet import FleetShape, Rollout
from sandbox.instances import instances_of
from sandbox.proxy import LOOPBACK, ProxyClient
from sandbox.serving import recover_interrupted_switch
from sandbox.state import SandboxState, utc_timestamp

NS_APP_ENV = "aws:elasticbeanstalk:application:environment"


@dataclass(frozen=True)
class AppRuntime:
    """How app processes are run for this stack."""

    project_dir: Path
    endpoint_url: str
    region: str
    credentials: Mapping[str, str]
    health_timeout: float = 120.0
    time_scale: float = 1.0
    """Divides TrafficSplitting's EvaluationTime (`--time-scale`, the sandbox only)."""

    @property
    def venv_bin(self) -> Path:
        """The project venv's bin folder (falls back to this interpreter's).

        Only for what is not the app: each release runs from its own bundle's venv.
        """
        candidate = self.project_dir / ".venv" / "bin"
        return candidate if candidate.is_dir() else Path(sys.executable).parent


def environment_properties(settings: list[Mapping[str, Any]] | None) -> dict[str, str]:
    """The `aws:elasticbeanstalk:application:environment` option settings as env vars."""
    return {
        str(s["name"]): str(s.get("value", ""))
        for s in settings or []
        if s.get("namespace") == NS_APP_ENV
    }


def settings_hash(settings: list[Mapping[str, Any]] | None, endpoint_url: str) -> str:
    """What a running version was started with: its environment properties and the moto
    endpoint (part of its process environment: a restarted moto, on a new port, means the
    running app points at nothing and must be redeployed). Kept as the app's `env_hash`."""
    return hashlib.sha256(
        json.dumps([environment_properties(settings), endpoint_url], sort_keys=True).encode()
    ).hexdigest()


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


class EnvironmentRunner:
    """Applications, versions and the running fleet of one stack (state in sandbox.json)."""

    def __init__(
        self,
        state: SandboxState,
        runtime: AppRuntime,
        s3_client: Callable[[], Any],
        free_port: Callable[[], int],
        proxy_port: int,
    ) -> None:
        self.state = state
        self.proxy_port = proxy_port
        self.runtime = runtime
        self._s3 = s3_client
        self._free_port = free_port
        self.last_deploy: dict[str, Any] | None = None
        self.proxy = ProxyClient(state.paths.proxy_target)
        self._venvs: dict[str, Path] = {}

    @property
    def health_timeout(self) -> float:
        """How long a new instance may take to answer /health (the rollout waits as long)."""
        return self.runtime.health_timeout

    @property
    def time_scale(self) -> float:
        """How much faster than EB the sandbox plays time-bound steps (the traffic split)."""
        return self.runtime.time_scale

    # -- records --------------------------------------------------------------------------

    def record_application(
        self,
        name: str,
        description: str,
        *,
        max_versions: int | None = None,
        delete_source: bool = False,
    ) -> None:
        with self.state.update() as data:
            app = data["eb"]["applications"].setdefault(name, {"created": utc_timestamp()})
            app["description"] = description
            app["version_lifecycle"] = {"max_count": max_versions, "delete_source": delete_source}

    def record_version(
        self, application: str, label: str, bucket: str, key: str, *, create: bool = True
    ) -> None:
        """CreateApplicationVersion as EB does it: the bundle must exist, the label must not.

        Then EB's version lifecycle (max count) retires the oldest versions no environment
        runs; their bundles stay in S3 unless the lifecycle says to delete the source.
        """
        existing = self.state.get("eb", "versions", application, label)
        if create and existing:
            raise SandboxError(
                f"InvalidParameterValue: Application Version {label} already exists in "
                f"application {application} (EB labels are unique per application; "
                "reference the existing version instead of creating it again)"
            )
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
            lifecycle = data["eb"]["applications"].get(application, {}).get("version_lifecycle")
            retired = _retire_versions(versions, lifecycle, data.get("app"), keep=label)
        for old in retired:
            if (lifecycle or {}).get("delete_source"):
                s3.delete_object(Bucket=old["bucket"], Key=old["key"])

    def delete_version(self, application: str, label: str, *, delete_source: bool = False) -> None:
        """DeleteApplicationVersion as EB does it: refused while an environment runs the label.

        "You cannot delete an application version that is associated with a running
        environment" (EB API reference); the version in the middle of a rollout counts too.
        A label EB no longer holds is not an error (the lifecycle may have retired it).
        """
        in_use = {
            (node or {}).get("version"): (node or {}).get("environment")
            for node in (self.state.get("app"), self.state.get("deploying"))
            if (node or {}).get("application", application) == application
        }
        if label in in_use:
            raise SandboxError(
                f"InvalidParameterValue: Unable to delete application version {label} because "
                f"it is being used by an environment ({in_use[label] or 'the environment'} "
                f"of application {application})"
            )
        with self.state.update() as data:
            old = data["eb"]["versions"].get(application, {}).pop(label, None)
        if old and delete_source:
            self._s3().delete_object(Bucket=old["bucket"], Key=old["key"])

    # -- the environment --------------------------------------------------------------------

    def proxy_address(self) -> str:
        """The environment's CNAME equivalent: the stack's stable proxy, host:port."""
        return f"{LOOPBACK}:{self.proxy_port}"

    def current(self) -> dict[str, Any] | None:
        return self.state.get("app")

    def deploy(
        self, environment: str, application: str, label: str, settings: list[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Make `label` with `settings` the live version of `environment` (no-op if it is)."""
        recover_interrupted_switch(self.state, self.proxy)
        env_vars = environment_properties(settings)
        shape = FleetShape.from_settings(settings)
        env_hash = settings_hash(settings, self.runtime.endpoint_url)
        current = self.current()
        if (
            current
            and current.get("version") == label
            and current.get("env_hash") == env_hash
            and len(instances_of(current)) == shape.size
            and all(
                processes.is_alive(processes.ProcessRecord.from_dict(i.get("process")))
                for i in instances_of(current)
            )
        ):
            self.proxy.register(instances_of(current), shape.health)  # a restarted proxy
            self.last_deploy = {"app_version": label, "action": "unchanged"}
            return current
        version = self.state.get("eb", "versions", application, label)
        if not version:
            raise SandboxError(f"environment {environment}: unknown application version {label!r}")

        release = self._release_dir(version, label, current)
        try:
            self.venv_bin(release)  # EB's pip install, before any instance is touched
        except SandboxError:
            shutil.rmtree(release, ignore_errors=True)
            raise
        meta = {
            "environment": environment,
            "application": application,
            "version": label,
            "env_hash": env_hash,
            "release_dir": str(release),
            "policy": shape.policy,
        }
        rollout = Rollout(self, shape, meta, env_vars, current)
        try:
            new = rollout.run()
        except BaseException as exc:
            self.last_deploy = {
                "app_version": label,
                "action": "failed",
                "policy": shape.policy,
                "error": str(exc),
                **rollout.report(),
            }
            raise
        if current:
            old_dir = current.get("release_dir")
            if old_dir and old_dir != str(release):
                shutil.rmtree(old_dir, ignore_errors=True)
        self.last_deploy = {
            "app_version": label,
            "action": "replaced" if current else "created",
            "previous_version": current.get("version") if current else None,
            "port": new.get("port"),
            "healthy_after_s": new.get("healthy_after_s"),
            "policy": shape.policy,
            "instances": [i["name"] for i in instances_of(new)],
            **rollout.report(),
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

    def venv_bin(self, release: Path) -> Path:
        """The bin folder of the venv the release's own requirements.txt installs (cached)."""
        key = str(release)
        if key not in self._venvs:
            self._venvs[key] = install_bundle(release)
        return self._venvs[key]

    def _child_env(
        self, env_vars: Mapping[str, str], port: int, name: str, venv_bin: Path
    ) -> dict[str, str]:
        """Only what EB would give the process: option-setting env vars + platform basics."""
        runtime = self.runtime
        env = {
            "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108  # nosec B108
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "PYTHONUNBUFFERED": "1",
            "VIRTUAL_ENV": str(venv_bin.parent),
            **env_vars,
            **runtime.credentials,
            "AWS_ENDPOINT_URL": runtime.endpoint_url,
            "AWS_REGION": env_vars.get("AWS_REGION", runtime.region),
            "AWS_DEFAULT_REGION": env_vars.get("AWS_REGION", runtime.region),
            "PORT": str(port),
            # What IMDS answers on an EC2 instance; /health reports it.
            "INSTANCE_ID": name,
        }
        # gunicorn 27 puts a control socket in $XDG_RUNTIME_DIR (else ~/.gunicorn/): give each
        # process its own, so blue and green (and other stacks) never share one.
        run_dir = self.state.paths.dir / "run" / str(port)
        run_dir.mkdir(parents=True, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(run_dir)
        return env

    def launch(
        self,
        release: Path,
        label: str,
        env_vars: Mapping[str, str],
        names: list[str],
        *,
        cancellable: bool = True,
    ) -> list[dict[str, Any]]:
        """Start one app process per name and wait until each answers /health directly.

        Each process is in `starting` on disk before anything can fail, so `down` (or the
        rollback) finds it; on failure every process started here is stopped again. Restoring
        the previous version after a cancel is not cancellable (`cancellable=False`): the
        signal that asked to stop is the reason the old version must serve again.
        """
        started: list[dict[str, Any]] = []
        began = time.monotonic()
        try:
            for name in names:
                started.append(self._start(release, label, env_vars, name))
            for inst in started:
                self._wait_healthy(
                    processes.ProcessRecord.from_dict(inst["process"]),
                    inst["port"],
                    label,
                    cancellable=cancellable,
                )
        except BaseException:
            self.stop_instances(started)
            self._forget_starting(started)
            raise
        for inst in started:
            inst["healthy_after_s"] = round(time.monotonic() - began, 2)
        pids = {i["process"]["pid"] for i in started}
        with self.state.update() as data:  # from `starting` into the rollout's journal at once
            data["starting"] = [p for p in data.get("starting", []) if p.get("pid") not in pids]
            data.setdefault("deploying", {}).setdefault("instances", []).extend(started)
        return started

    def stop_instances(self, instances: list[dict[str, Any]]) -> None:
        for inst in instances:
            processes.stop(processes.ProcessRecord.from_dict(inst.get("process")))

    def _start(
        self, release: Path, label: str, env_vars: Mapping[str, str], name: str
    ) -> dict[str, Any]:
        port = self._free_port()
        venv_bin = self.venv_bin(release)
        env = self._child_env(env_vars, port, name, venv_bin)
        try:
            argv = web_argv(release, env)
        except ProcfileError as exc:
            raise SandboxError(str(exc)) from exc
        exe = shutil.which(argv[0], path=env["PATH"])
        if exe is None:
            raise SandboxError(
                f"'{argv[0]}' (the Procfile's web command) is not installed by the bundle's "
                f"requirements.txt (venv {venv_bin.parent})"
            )
        log = self.state.paths.logs / f"app-{label}-{name}.log"
        record, _ = processes.spawn([exe, *argv[1:]], cwd=release, env=env, log=log)
        # On disk before the health wait, so `down` finds it even if this process dies now.
        with self.state.update() as data:
            data.setdefault("starting", []).append(record.to_dict())
        return {
            "name": name,
            "port": port,
            "version": label,
            "process": record.to_dict(),
            "release_dir": str(release),
        }

    def _forget_starting(self, instances: list[dict[str, Any]]) -> None:
        """Out of `starting` once stopped or recorded in the deployment journal / fleet."""
        pids = {i["process"]["pid"] for i in instances}
        with self.state.update() as data:
            data["starting"] = [p for p in data.get("starting", []) if p.get("pid") not in pids]

    def _wait_healthy(
        self, record: processes.ProcessRecord, port: int, label: str, *, cancellable: bool = True
    ) -> None:
        """Until the new instance answers /health directly; else why not, with its log."""
        timeout = self.runtime.health_timeout
        try:
            wait_healthy(
                f"http://{LOOPBACK}:{port}",
                timeout=timeout,
                alive=lambda: processes.is_alive(record),
                # A signal: undo (stop the new version).
                cancelled=cancelled if cancellable else lambda: False,
            )
        except HealthCancelled:
            raise SandboxError(
                f"deployment of {label} cancelled before it became healthy; the "
                "previous version keeps serving"
            ) from None
        except ProcessExited:
            cause = processes.first_error(record.log) or "see the log"
            raise SandboxError(
                f"app version {label} exited before becoming healthy ({cause}); the "
                f"previous version keeps serving. Last lines of {record.log}:\n"
                f"{processes.tail(record.log)}"
            ) from None
        except HealthTimeout as exc:
            cause = processes.first_error(record.log)
            raise SandboxError(
                f"app version {label} did not answer {HEALTH_PATH} with 200 within "
                f"{timeout:.0f}s (last: {exc.last}"
                + (f"; first error: {cause}" if cause else "")
                + f"); the previous version keeps serving. Last lines of {record.log}:\n"
                f"{processes.tail(record.log)}"
            ) from None


def _retire_versions(
    versions: dict[str, Any],
    lifecycle: Mapping[str, Any] | None,
    running: Mapping[str, Any] | None,
    keep: str,
) -> list[dict[str, Any]]:
    """EB's MaxCountRule: drop the oldest versions beyond max_count, never a running one."""
    max_count = (lifecycle or {}).get("max_count")
    if not max_count:
        return []
    in_use = {(running or {}).get("version"), keep}
    retired = []
    for label in sorted(versions, key=lambda v: versions[v].get("created", "")):
        if len(versions) <= int(max_count):
            break
        if label not in in_use:
            retired.append(versions.pop(label))
    return retired
