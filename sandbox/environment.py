"""The Elastic Beanstalk environment, realised locally the way EB deploys an app version.

EB: download the version's source bundle from S3, unpack it, run the Procfile's `web:` process
with the environment properties from the option settings, health-check it, and only then put it
behind the environment's CNAME. Here: the bundle comes from the moto artifact bucket, is
unpacked under `.sandbox/<stack>/releases/<label>/`, and `web:` runs with the *project venv*
(nothing is installed: the venv already holds app/requirements.txt) on a fresh loopback port,
detached so it outlives the CLI: one process per instance of the fleet (`MinSize` of the
`aws:autoscaling:asg` settings), each named like an EC2 instance (`INSTANCE_ID` in its
environment, which `/health` reports), all behind the stack's load balancer (sandbox/proxy.py).
New versions roll out by the environment's `DeploymentPolicy` (sandbox/fleet.py): AllAtOnce
(in place, the gap measured), Rolling / RollingWithAdditionalBatch (by batches) and Immutable
(a full new set healthy before the old one drains). If the new version never gets healthy its
instances are stopped, the old version keeps serving, and the deployment fails with the reason
and the tail of its log.
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

from commandline.interrupts import cancelled, deferred
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


def get_json(url: str, timeout: float = 3.0) -> tuple[int | None, Any]:
    """GET a loopback URL of a process we started → (status, parsed JSON body or error text)."""
    try:
        # Safe: an http:// loopback URL of a process we started.
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310  # nosec B310
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        return None, str(getattr(exc, "reason", exc))
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")[:200]


def check_health(url: str, timeout: float = 3.0) -> tuple[int | None, dict[str, Any] | str]:
    """GET <url>/health → (status, parsed JSON body or error text)."""
    return get_json(f"{url}{HEALTH_PATH}", timeout)


def instance_name(stack_dir: Path, label: str, index: int) -> str:
    """An EC2-like instance id, unique per launch (`i-` + 17 hex)."""
    seed = f"{stack_dir}/{label}/{index}/{time.time_ns()}/{os.getpid()}"
    return "i-" + hashlib.sha256(seed.encode()).hexdigest()[:17]


class EnvironmentRunner:
    """Applications, versions and the running fleet of one stack (state in sandbox.json)."""

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
        self.lb = LoadBalancer(state.paths.proxy_target)

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

    def front_address(self) -> str:
        """The environment's CNAME equivalent: the stable load balancer, host:port."""
        return f"{LOOPBACK}:{self.front_port}"

    def current(self) -> dict[str, Any] | None:
        return self.state.get("app")

    def deploy(
        self, environment: str, application: str, label: str, settings: list[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Make `label` with `settings` the live version of `environment` (no-op if it is)."""
        from sandbox.fleet import FleetShape, Rollout

        recover_interrupted_switch(self.state, self.lb)
        env_vars = environment_properties(settings)
        shape = FleetShape.from_settings(settings)
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
            and len(instances_of(current)) == shape.size
            and all(
                processes.is_alive(processes.ProcessRecord.from_dict(i.get("process")))
                for i in instances_of(current)
            )
        ):
            self.lb.register(instances_of(current), shape.health)  # a restarted proxy
            self.last_deploy = {"app_version": label, "action": "unchanged"}
            return current
        version = self.state.get("eb", "versions", application, label)
        if not version:
            raise SandboxError(f"environment {environment}: unknown application version {label!r}")

        release = self._release_dir(version, label, current)
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

    def _child_env(self, env_vars: Mapping[str, str], port: int, name: str) -> dict[str, str]:
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
        env = self._child_env(env_vars, port, name)
        argv = expand(web_command(release), env)
        exe = shutil.which(argv[0], path=env["PATH"])
        if exe is None:
            raise SandboxError(
                f"'{argv[0]}' (the Procfile's web command) is not installed in "
                f"{self.runtime.venv_bin}; run `make setup`"
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
        url = f"http://{LOOPBACK}:{port}"
        deadline = time.monotonic() + self.runtime.health_timeout
        last: Any = "no answer yet"
        while time.monotonic() < deadline:
            if cancellable and cancelled():  # a signal: undo (stop the new version)
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


def instances_of(app: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The fleet of a recorded app (older single-process records count as one instance)."""
    if not app:
        return []
    if "instances" in app:
        return list(app["instances"])
    if app.get("process"):
        return [{"name": "app", "port": app.get("port"), "process": app["process"]}]
    return []


def fleet_record(meta: Mapping[str, Any], instances: list[dict[str, Any]]) -> dict[str, Any]:
    """`state["app"]`: the serving version and its instances (first instance's process/port
    kept at the top level for tools that read a single app process)."""
    first = instances[0] if instances else {}
    return {
        **meta,
        "instances": instances,
        "process": first.get("process"),
        "port": first.get("port"),
        "started_at": utc_timestamp(),
        "healthy_after_s": max((i.get("healthy_after_s") or 0 for i in instances), default=0),
    }


class LoadBalancer:
    """The deployer's side of sandbox/proxy.py: register/deregister, wait for health/drain."""

    def __init__(self, target_file: Path) -> None:
        from sandbox.proxy import status_path

        self.target_file = target_file
        self.status_file = status_path(target_file)

    def registered(self) -> list[dict[str, Any]]:
        from sandbox.proxy import read_target

        return list((read_target(self.target_file) or {}).get("backends", []))

    def register(self, instances: list[dict[str, Any]], health: Mapping[str, Any]) -> int:
        """Make exactly `instances` the registered targets; returns the new generation."""
        from sandbox.proxy import read_target

        generation = int((read_target(self.target_file) or {}).get("generation", 0)) + 1
        write_json_atomic(
            self.target_file,
            {
                "generation": generation,
                "backends": [{"name": i["name"], "port": i["port"]} for i in instances],
                "health": dict(health),
            },
        )
        return generation

    def status(self) -> dict[str, Any]:
        try:
            return json.loads(self.status_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def wait_healthy(self, instances: list[dict[str, Any]], timeout: float) -> None:
        """Until the balancer's own health checks put every instance in service."""
        deadline = time.monotonic() + timeout
        ports = {str(i["port"]) for i in instances}
        while time.monotonic() < deadline:
            backends = self.status().get("backends", {})
            if all(backends.get(p, {}).get("state") == "healthy" for p in ports):
                return
            time.sleep(0.1)
        raise SandboxError(
            f"instances {sorted(i['name'] for i in instances)} did not pass the load "
            f"balancer's health checks within {timeout:.0f}s; the previous version keeps serving"
        )

    def wait_drained(
        self, instances: list[dict[str, Any]], generation: int, timeout: float
    ) -> float:
        """Until the balancer applied `generation` and nothing is in flight to `instances`."""
        started = time.monotonic()
        ports = {str(i["port"]) for i in instances}
        while time.monotonic() - started < timeout:
            status = self.status()
            if int(status.get("generation", -1)) >= generation:
                backends = status.get("backends", {})
                if all(backends.get(p, {}).get("in_flight", 0) == 0 for p in ports):
                    break
            time.sleep(0.05)
        return round(time.monotonic() - started, 2)


def switch_serving_version(
    state: SandboxState,
    lb: LoadBalancer,
    new_app: dict[str, Any],
    registered: list[dict[str, Any]],
    health: Mapping[str, Any],
) -> int:
    """THE switch of serving version: load balancer targets, sandbox state and the outputs'
    `app_version` change together, or not at all.

    A journal (`state["switch"]`) is written first; the target file's atomic rename is the
    commit point; then `app` and outputs.json are written and the journal is cleared. SIGINT /
    SIGTERM are held back for these few writes; a harder stop (SIGKILL, power loss) is finished
    or undone by `recover_interrupted_switch` on the next command, which decides by what the
    target file says. Returns the load balancer generation that deregistered the old set.
    """
    with deferred():
        with state.update() as data:
            data["switch"] = {"app": new_app, "registered": registered}
        generation = lb.register(registered, health)  # commit point
        _finish_switch(state, new_app)
    return generation


def _finish_switch(state: SandboxState, new_app: dict[str, Any]) -> None:
    with state.update() as data:
        data["app"] = new_app
        data.pop("switch", None)
        data.pop("deploying", None)
    outputs = read_outputs(state.paths.outputs)
    if outputs is not None and outputs.get("app_version") != new_app["version"]:
        outputs["app_version"] = new_app["version"]
        write_json_atomic(state.paths.outputs, outputs)


def read_outputs(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def recover_interrupted_switch(state: SandboxState, lb: LoadBalancer) -> str | None:
    """Finish or undo a switch / rollout a killed process left half-done ('finished'/'undone').

    If the target file already names the new set the switch committed: state and outputs are
    brought up to it. Otherwise the new version never served: its instances are stopped and the
    old fleet (whatever of it still runs) stays registered.
    """
    pending = state.get("switch")
    deploying = state.get("deploying")
    if not pending and not deploying:
        return None
    registered = {int(b["port"]) for b in lb.registered()}
    if pending and registered == {int(i["port"]) for i in pending["registered"]}:
        _finish_switch(state, pending["app"])
        return "finished"
    new_instances = (deploying or {}).get("instances", [])
    keep = {int(i["port"]) for i in instances_of(state.get("app"))}
    for inst in new_instances:
        if int(inst["port"]) not in keep:
            processes.stop(processes.ProcessRecord.from_dict(inst.get("process")))
    alive = [
        i
        for i in instances_of(state.get("app"))
        if processes.is_alive(processes.ProcessRecord.from_dict(i.get("process")))
    ]
    lb.register(alive, (deploying or {}).get("health") or {})
    with state.update() as data:
        data.pop("switch", None)
        data.pop("deploying", None)
    return "undone"


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
