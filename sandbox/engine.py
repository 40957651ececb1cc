"""SandboxEngine: `preview`/`up`/`outputs`/`history`/`destroy` of a stack on this machine.

The same Pulumi program and stack files as the real engine (automation's PulumiEngine), run
in-process under mocks that realise each resource on a per-stack moto server and the EB
environment as local gunicorn instances behind the stack's proxy (its stable port). Moto, the
proxy and the app are detached processes recorded in `.sandbox/<stack>/sandbox.json`, so they
outlive the CLI and the next `up` reuses them (idempotent), and `destroy` stops exactly them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.bundle import build_bundle, bundle_label
from app.models import ModelError, check
from commandline.interrupts import as_interrupted, deferred
from common.changes import ChangeSummary
from common.contracts import (
    SANDBOX_AWS_ENV,
    managed_version_labels,
    version_exists_env,
)
from common.drift import DriftReport
from common.jsonfile import write_json_atomic
from common.paths import ROOT, StackPaths
from common.polling import WaitTimeout, wait_until
from common.procfile import HEALTH_PATH, get_json
from components.config import PROJECT, REGION_KEY, StackConfigError, parse_stack_config
from sandbox import processes
from sandbox.drift import find_drift
from sandbox.environment import AppRuntime, EnvironmentRunner
from sandbox.errors import SandboxError, SandboxUsageError
from sandbox.instances import instances_of
from sandbox.mocks import PlanningMocks, RealisingMocks
from sandbox.moto_server import (
    LOOPBACK,
    MOTO_SERVER_ENV,
    SANDBOX_STATE_ENV,
    free_port,
    moto_server_argv,
    port_in_use,
    wait_for_moto,
)
from sandbox.program import load_stack_config, project_name, run_program
from sandbox.realise.context import RealiseContext
from sandbox.realise.deletes import realise_deletes, replaced
from sandbox.state import SandboxState, read_json, stack_lock, utc_timestamp
from sandbox.tls import certificate_arn
from sandbox.tls import issue as issue_certificate

MODEL_KEY = "backgroundRemovalModel"
DEFAULT_MODEL = "u2netp"
#: Errors raised by the program's own modules are user-facing (bad config, missing bundle).
USER_ERROR_MODULES = ("components", "app")

# The Pulumi runtime's settings are process-global: one program run at a time per process.
_PROGRAM_LOCK = threading.Lock()


def require_moto() -> None:
    """moto[server] must be importable (the server needs flask/werkzeug too)."""
    missing = [m for m in ("moto", "flask", "werkzeug") if importlib.util.find_spec(m) is None]
    if missing:
        raise SandboxUsageError(
            f"moto[server] is not installed in this Python ({', '.join(missing)} missing); "
            "run `make setup` or `pip install 'moto[server]'`"
        )


def diff_graphs(
    old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """Resource key → create/update/same/delete between two recorded graphs."""
    ops: dict[str, str] = {}
    for key, entry in new.items():
        before = old.get(key)
        if before is None:
            ops[key] = "create"
        elif before.get("inputs_digest") == entry.get("inputs_digest"):
            ops[key] = "same"
        else:
            ops[key] = "update"
    for key in old.keys() - new.keys():
        ops[key] = "delete"
    return ops


def changed_properties(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[str]:
    """Input properties whose value differs between two recorded resources."""
    before = (old or {}).get("input_digests")
    after = (new or {}).get("input_digests") or {}
    if before is None:
        return ["(deployed before per-property tracking)"]
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def count_ops(ops: Mapping[str, str]) -> dict[str, int]:
    counts = {"create": 0, "update": 0, "same": 0, "delete": 0}
    for op in ops.values():
        counts[op] += 1
    return counts


def _answers(endpoint: str) -> bool:
    """Does the stack's moto server answer HTTP at all (a dead or wedged one does not)?"""
    try:
        wait_for_moto(endpoint, timeout=3.0)
    except TimeoutError:
        return False
    return True


def _user_error(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return isinstance(exc, SandboxError) or module.split(".")[0] in USER_ERROR_MODULES


def _one_line(message: str) -> str:
    lines = [line.strip(" -") for line in str(message).splitlines() if line.strip()]
    return lines[0] + (": " + "; ".join(lines[1:]) if len(lines) > 1 else "") if lines else ""


class SandboxEngine:
    """One stack of the project, deployed to moto + local processes."""

    name = "sandbox"

    def __init__(
        self,
        stack: str,
        project_dir: Path = ROOT,
        state_root: Path | None = None,
        *,
        moto_port: int | None = None,
        app_port: int | None = None,
        health_timeout: float = 120.0,
        on_output: Callable[[str], Any] | None = None,
        lock_timeout: float = 0.0,
        https: bool = False,
        certificate_host: str | None = None,
        time_scale: float = 1.0,
    ) -> None:
        """`https` (sandbox only) deploys with a stand-in ACM certificate as `certificateArn`
        (sandbox/tls.py), for publicBaseUrl's host or `certificate_host`; a stack file with a
        certificateArn of its own is served over HTTPS anyway."""
        self.stack = stack
        self.https = https or certificate_host is not None
        self.certificate_host = certificate_host
        self.log = on_output or (lambda line: None)
        self.project_dir = Path(project_dir).resolve()
        self.state_root = (
            Path(state_root) if state_root is not None else self.project_dir / ".sandbox"
        )
        self.paths = StackPaths(self.state_root, stack)
        self.moto_port = moto_port
        self.app_port = app_port
        self.health_timeout = health_timeout
        self.lock_timeout = lock_timeout
        if not time_scale > 0:
            raise SandboxUsageError(f"--time-scale: got {time_scale}; allowed a number > 0")
        #: Time-bound steps (TrafficSplitting's evaluation, CloudWatch periods) run F× faster.
        self.time_scale = float(time_scale)
        #: What this engine found left behind by a killed run and cleaned (said, not hidden).
        self.cleaned: list[str] = []

    # -- the engine interface ---------------------------------------------------------------

    def preview(self, bundle: Path | None = None) -> ChangeSummary:
        """What an `up` would change, per resource type, against the last deployed graph."""
        config = self._config()
        self._check_inputs(config, bundle)
        deployed = read_json(self.paths.sandbox, default={}).get("resources", {})
        mocks = PlanningMocks(self._region(config), deployed)
        try:
            with deferred():
                self._run(mocks, config, bundle, preview=True)
        except Exception as exc:
            if isinstance(exc, SandboxError):
                raise
            if _user_error(exc):
                raise SandboxError(_one_line(str(exc))) from exc
            raise
        summary = ChangeSummary(self.stack)
        for key, op in sorted(diff_graphs(deployed, mocks.graph).items()):
            entry = mocks.graph.get(key) or deployed[key]
            diffs = (
                changed_properties(deployed.get(key), mocks.graph.get(key))
                if op == "update"
                else []
            )
            summary.add(
                entry["type"],
                op,
                name=entry.get("name", key),
                diffs=diffs,
                component=entry.get("component", ""),
            )
        return summary

    def up(self, bundle: Path | None = None) -> dict[str, Any]:
        """Deploy the stack: realise every resource, run the app version, write outputs."""
        require_moto()
        config = self._config()
        self._check_inputs(config, bundle)
        with self._lock():
            state = SandboxState(self.paths)
            self._clean_orphans(state)
            had_app = bool(state.get("app"))
            started_here: list[str] = []
            record: dict[str, Any] = {
                "version": self._next_version(state),
                "kind": "update",
                "start_time": utc_timestamp(),
                "bundle": str(bundle) if bundle else None,
            }
            runner: EnvironmentRunner | None = None
            mocks = None
            try:
                endpoint = self._ensure_moto(state, started_here)
                self._ensure_proxy(state, started_here, self._tls_names(config))
                with state.update() as data:  # the moto side's CloudWatch periods follow it
                    data["time_scale"] = self.time_scale
                region = self._region(config)
                ctx = RealiseContext(
                    stack=self.stack,
                    project=project_name(self.project_dir),
                    region=region,
                    endpoint_url=endpoint,
                    credentials=SANDBOX_AWS_ENV,
                    deployed=state.get("resources", default={}) or {},
                )
                runner = EnvironmentRunner(
                    state,
                    AppRuntime(
                        self.project_dir,
                        endpoint,
                        region,
                        SANDBOX_AWS_ENV,
                        self.health_timeout,
                        time_scale=self.time_scale,
                    ),
                    s3_client=lambda: ctx.client("s3"),
                    free_port=free_port,
                    proxy_port=int(state.get("proxy", "port")),
                )
                ctx.services = runner
                mocks = RealisingMocks(ctx)
                self.log(f"sandbox[{self.stack}]: running the Pulumi program against {endpoint}")
                with deferred():  # a signal cancels the workers' waits; the program unwinds
                    outputs = self._run(mocks, config, bundle, preview=False)
            except BaseException as exc:
                self._record_failure(state, record, exc, mocks, runner)
                if not had_app:
                    self._stop_started(state, started_here)
                self._reconcile_outputs(state)
                signal_exc = as_interrupted(exc)
                if signal_exc is not None and signal_exc is not exc:
                    raise signal_exc from exc  # a signal's error, masked on the way up
                if isinstance(exc, SandboxError):
                    raise
                if _user_error(exc):
                    raise SandboxError(_one_line(str(exc))) from exc
                raise
            unhealthy = self._unhealthy(runner)
            if unhealthy:
                self._record_failure(state, record, SandboxError(unhealthy), mocks, runner)
                raise SandboxError(unhealthy)
            # Pulumi deletes replaced/removed resources last; a refused delete fails the update
            # and stays pending for the next one (sandbox/realise/deletes.py).
            old = state.get("resources", default={}) or {}
            deletes = realise_deletes(
                ctx, old, mocks.graph, state.get("pending_deletes", default=[]) or []
            )
            with deferred():  # outputs and state name the new version together
                ops = diff_graphs(old, mocks.graph)
                write_json_atomic(self.paths.outputs, outputs)
                with state.update() as data:
                    data["resources"] = mocks.graph
                    data["pending_deletes"] = deletes.pending
                    data["app_url"] = f"http://{runner.proxy_address()}"
                    data["outputs_file"] = str(self.paths.outputs)
                    data["deployments"].append(
                        {
                            **record,
                            "result": "failed" if deletes.errors else "succeeded",
                            "end_time": utc_timestamp(),
                            "message": "; ".join(deletes.errors) or self._deploy_message(runner),
                            "app_version": outputs.get("app_version"),
                            "api_url": outputs.get("api_url"),
                            "app": runner.last_deploy,
                            "resource_changes": count_ops(ops),
                        }
                    )
            if deletes.errors:
                raise SandboxError(
                    "; ".join(deletes.errors)
                    + " (the update's new resources are in place; the delete is retried at the "
                    "next up)"
                )
            return outputs

    def refresh(self) -> None:
        """Reconcile recorded processes with reality (dead ones are marked, not restarted)."""
        if not self.paths.sandbox.exists():
            return
        with self._lock():
            state = SandboxState(self.paths)
            self._clean_orphans(state)
            with state.update() as data:
                for key in ("moto", "proxy", "app"):
                    node = data.get(key)
                    if node and node.get("process"):
                        proc = processes.ProcessRecord.from_dict(node["process"])
                        node["alive"] = processes.is_alive(proc)
                data["starting"] = [
                    p
                    for p in data.get("starting", [])
                    if processes.is_alive(processes.ProcessRecord.from_dict(p))
                ]
                data["refreshed_at"] = utc_timestamp()

    def drift(self) -> DriftReport:
        """The deployed resources read back from moto, compared with the state `up` kept."""
        data = read_json(self.paths.sandbox, default=None) or {}
        endpoint = data.get("aws_endpoint_url")
        if not data.get("resources") or not endpoint:
            raise SandboxUsageError(
                f"stack '{self.stack}' is not deployed in the sandbox; nothing to compare "
                f"(run `python -m sandbox up --stack {self.stack}`)"
            )
        if not _answers(endpoint):
            raise SandboxError(f"stack '{self.stack}': its moto ({endpoint}) does not answer")
        ctx = RealiseContext(
            stack=self.stack,
            project=project_name(self.project_dir),
            region=self._region(self._config()),
            endpoint_url=endpoint,
            credentials=SANDBOX_AWS_ENV,
        )
        return find_drift(data["resources"], ctx.client, held=data)

    def outputs(self) -> dict[str, Any]:
        data = read_json(self.paths.outputs, default=None)
        if data is None:
            raise SandboxUsageError(
                f"stack '{self.stack}' is not deployed in the sandbox (no {self.paths.outputs}); "
                f"run `python -m sandbox up --stack {self.stack}`"
            )
        return data

    def history(self) -> list[dict[str, Any]]:
        """Deployments, newest first (like `pulumi stack history`), earlier stacks' included.

        `down` archives the deployments beside the stack folder (like `pulumi stack history`
        surviving a destroy), and a new stack of the same name continues the numbering.
        """
        data = read_json(self.paths.sandbox, default={}) or {}
        archived = read_json(self._archive_path, default=[]) or []
        return list(reversed([*archived, *data.get("deployments", [])]))

    @property
    def _archive_path(self) -> Path:
        return self.state_root / ".history" / f"{self.stack}.json"

    def _next_version(self, state: SandboxState) -> int:
        archived = read_json(self._archive_path, default=[]) or []
        return len(archived) + len(state.get("deployments", default=[])) + 1

    def status(self) -> dict[str, Any]:
        """Processes, URLs, a live health probe and the outputs; never raises for 'not up'."""
        data = read_json(self.paths.sandbox, default=None)
        if data is None:
            return {"stack": self.stack, "deployed": False}

        def proc(node: Mapping[str, Any] | None) -> dict[str, Any] | None:
            if not node:
                return None
            rec = processes.ProcessRecord.from_dict(node.get("process"))
            return {
                "pid": rec.pid if rec else None,
                "port": node.get("port"),
                "alive": processes.is_alive(rec),
                "log": rec.log if rec else None,
            }

        app_url = data.get("app_url")
        health: dict[str, Any] = {"ok": False, "detail": "no app deployed"}
        if app_url:
            code, body = get_json(f"{app_url}/health?deep=1", timeout=5.0)
            failed = body.get("failed") if isinstance(body, dict) else None
            health = {
                "ok": code == 200,
                "status": code,
                "version": body.get("version") if isinstance(body, dict) else None,
                "detail": (failed or body.get("status")) if isinstance(body, dict) else body,
                "deep": True,
            }
        deployments = data.get("deployments", [])
        app = data.get("app") or {}
        parts = {
            "moto": proc(data.get("moto")),
            "proxy": proc(data.get("proxy")),
            "app": proc(app),
        }
        for inst in instances_of(app):  # the fleet: every instance is checked
            parts[f"instance {inst.get('name') or inst.get('port')}"] = proc(inst)
        moto_answers = bool(data.get("aws_endpoint_url")) and _answers(data["aws_endpoint_url"])
        problems = [f"{name} is not running" for name, p in parts.items() if p and not p["alive"]]
        if parts["moto"] and parts["moto"]["alive"] and not moto_answers:
            problems.append("moto does not answer")
        if app and not health["ok"]:
            problems.append(f"/health?deep=1 fails ({health.get('status') or 'no answer'})")
        return {
            "stack": self.stack,
            "deployed": bool(app),
            "ok": bool(app) and not problems,
            "problems": problems,
            "aws_endpoint_url": data.get("aws_endpoint_url"),
            "app_url": app_url,
            "app_version": app.get("version"),
            **parts,
            "instances": [{"name": i.get("name"), **(proc(i) or {})} for i in instances_of(app)],
            "deployment_policy": app.get("policy"),
            "health": health,
            "last_deployment": deployments[-1] if deployments else None,
            "outputs": read_json(self.paths.outputs, default={}),
            "state_dir": str(self.paths.dir),
        }

    def destroy(self, *, honour_protection: bool = False) -> None:
        """Stop every process this stack started and remove its state (= `down`).

        With `honour_protection` (the pipeline's `destroy`), refuse as `pulumi destroy` does
        when the deployed graph holds resources the program marked `protect` (tables and
        buckets under `deletionProtection`): nothing is stopped or removed. Without it this is
        the sandbox's own teardown (`sandbox down`, a throwaway check stack), which leaves no
        data behind that outlives a sandbox anyway.
        """
        if not self.paths.dir.exists():
            return
        with self._lock():
            data = read_json(self.paths.sandbox, default={}) or {}
            if honour_protection:
                self._refuse_protected(data.get("resources") or {})
            if data.get("deployments"):
                archived = read_json(self._archive_path, default=[]) or []
                write_json_atomic(self._archive_path, [*archived, *data["deployments"]])
            records = [p for p in data.get("starting", [])]
            # Every app instance first (serving fleet, a rollout's new ones): they talk to moto.
            fleet = instances_of(data.get("app")) + (data.get("deploying") or {}).get(
                "instances", []
            )
            records += [i["process"] for i in fleet if i.get("process")]
            for key in ("proxy", "moto"):
                node = data.get(key) or {}
                if node.get("process"):
                    records.append(node["process"])
            for rec in records:
                processes.stop(processes.ProcessRecord.from_dict(rec))
            import shutil

            shutil.rmtree(self.paths.dir, ignore_errors=True)

    def _refuse_protected(self, resources: Mapping[str, Mapping[str, Any]]) -> None:
        """The deployed resources marked `protect` stop a destroy, named, as in Pulumi.

        A graph recorded before the sandbox kept `protect` has none (its next `up` records
        them); `retain_on_delete` is no stand-in, as unprotected resources carry it too (the
        EB application versions, whose lifecycle EB owns).
        """
        protected = sorted(
            f"{entry.get('type')} {entry.get('name')} ({entry.get('id')})"
            for entry in resources.values()
            if entry.get("protect")
        )
        if protected:
            raise SandboxError(
                f"stack '{self.stack}' holds protected resources that destroy will not delete: "
                + ", ".join(protected)
                + "; nothing was stopped or removed. They hold customer data. To remove them on "
                f"purpose: set deletionProtection: false in Pulumi.{self.stack}.yaml and deploy "
                "it (`up` lifts the protection), then destroy again"
            )

    # -- plumbing ---------------------------------------------------------------------------

    def _config(self) -> dict[str, str]:
        """The stack's config, validated before any process starts (exit 2, one line)."""
        config = self._with_sandbox_certificate(load_stack_config(self.project_dir, self.stack))
        try:
            parse_stack_config(self.stack, config)
        except StackConfigError as exc:
            raise SandboxUsageError(_one_line(str(exc))) from exc
        return config

    def _with_sandbox_certificate(self, config: dict[str, Any]) -> dict[str, Any]:
        """With `https`: the stand-in ACM certificate as certificateArn (in the stack's region,
        as ACM certificates of an ALB must be), and no allowInsecureHttp (it is the setting of
        a stack without one). The stack file itself is not changed."""
        if not self.https:
            return config
        region = str(config.get(REGION_KEY) or "us-east-1")
        config = {k: v for k, v in config.items() if k != f"{PROJECT}:allowInsecureHttp"}
        config[f"{PROJECT}:certificateArn"] = certificate_arn(region, self.stack)
        return config

    def _tls_names(self, config: Mapping[str, Any]) -> tuple[str, list[str]] | None:
        """(api_url's host, the names the certificate is for) when the stack has a certificate.

        On AWS the ACM certificate is for the user's domain; the sandbox's stand-in is for
        publicBaseUrl's host (api_url's), or `certificate_host` to show a mismatch.
        """
        if not config.get(f"{PROJECT}:certificateArn"):
            return None
        host = urlsplit(str(config.get(f"{PROJECT}:publicBaseUrl") or "")).hostname
        if not host:
            return None  # the config rules refuse this before we get here
        return host, [self.certificate_host or host]

    def _lock(self) -> Any:
        return stack_lock(
            self.paths, wait_s=self.lock_timeout, on_wait=self.log, on_stale=self._cleaned
        )

    def _cleaned(self, line: str) -> None:
        self.cleaned.append(line)
        self.log(f"sandbox[{self.stack}]: {line}")

    def _clean_orphans(self, state: SandboxState) -> None:
        """Stop app processes a killed `up` started but never switched to (we hold the lock)."""
        left = state.get("starting", default=[]) or []
        if not left:
            return
        for item in left:
            rec = processes.ProcessRecord.from_dict(item)
            if processes.is_alive(rec):
                processes.stop(rec)
                self._cleaned(
                    f"stopped orphan app process pid {rec.pid} left by an interrupted deployment"
                )
        with state.update() as data:
            data["starting"] = []

    def _reconcile_outputs(self, state: SandboxState) -> None:
        """After a failed or interrupted `up`, outputs.json names the version that serves.

        A signal can land after the new version took traffic but before the outputs were
        written; the switch is kept (finished), and the outputs are brought up to it.
        """
        serving = (state.get("app") or {}).get("version")
        outputs = read_json(self.paths.outputs, default=None)
        if serving and isinstance(outputs, dict) and outputs.get("app_version") != serving:
            write_json_atomic(self.paths.outputs, {**outputs, "app_version": serving})
            self.log(f"sandbox[{self.stack}]: outputs updated to the serving version {serving}")

    def _unhealthy(self, runner: EnvironmentRunner) -> str | None:
        """Why the version now serving is not healthy (None when it is): `up` must not say OK."""
        app = runner.current() or {}
        if not app.get("port"):
            return None
        code, body = get_json(f"http://{runner.proxy_address()}{HEALTH_PATH}")
        if code == 200:
            return None
        detail = body if isinstance(body, str) else json.dumps(body)[:200]
        return (
            f"app version {app.get('version')} is deployed but not healthy "
            f"({f'HTTP {code}' if code else 'no answer'}: {detail})"
        )

    def _region(self, config: Mapping[str, str]) -> str:
        return config.get("aws:region") or "us-east-1"

    def _check_inputs(self, config: Mapping[str, str], bundle: Path | None) -> None:
        """Fail before touching anything when the bundle or the model it needs is missing."""
        if bundle is not None:
            if not Path(bundle).is_file():
                raise SandboxUsageError(f"bundle {bundle} does not exist")
            return
        model = config.get(f"{project_name(self.project_dir)}:{MODEL_KEY}", DEFAULT_MODEL)
        try:
            check(model)
        except ModelError as exc:
            raise SandboxUsageError(str(exc)) from exc

    def _run(
        self, mocks: Any, config: Mapping[str, str], bundle: Path | None, *, preview: bool
    ) -> dict[str, Any]:
        if bundle is None:
            # Build app/ here rather than in the program, so that a label EB already holds (the
            # version a rollback went back to) is referenced, not created twice; and a preview
            # plans what `up` will do with it (no phantom create of a version EB holds).
            parsed = parse_stack_config(self.stack, config)  # validated by _config already
            bundle = build_bundle(
                model=parsed.background_removal_model,
                self_contained=parsed.self_contained_bundle,
            ).path
        with _PROGRAM_LOCK:
            return run_program(
                self.project_dir,
                self.stack,
                mocks,
                config=config,
                bundle=bundle,
                preview=preview,
                extra_env=self._version_env(bundle),
            )

    def _version_env(self, bundle: Path | None) -> dict[str, str]:
        """Tell the program when EB already holds the bundle's label (see bundle_source)."""
        if bundle is None:
            return {}
        label = bundle_label(bundle)
        state = read_json(self.paths.sandbox, default={}) or {}
        # Replaced versions waiting for their delete sit in pending_deletes, not resources.
        managed = managed_version_labels((state.get("resources") or {}).values())
        versions = state.get("eb", {}).get("versions") or {}
        eb_holds = any(label in labels for labels in versions.values())
        return version_exists_env(label, eb_holds=eb_holds, managed=managed)

    def _port_for(self, state: SandboxState, role: str, pinned: int | None) -> int:
        """A pinned port must be free; else reuse the recorded one if free, else a new one."""
        if pinned is not None:
            if port_in_use(pinned):
                raise SandboxUsageError(
                    f"port {pinned} on 127.0.0.1 (wanted for the {role} of stack "
                    f"'{self.stack}') is already in use; choose another port or stop what uses it"
                )
            return pinned
        recorded = state.get(role, "port")
        if recorded and not port_in_use(int(recorded)):
            return int(recorded)
        return free_port()

    def _ensure_moto(self, state: SandboxState, started: list[str]) -> str:
        node = state.get("moto") or {}
        rec = processes.ProcessRecord.from_dict(node.get("process"))
        if processes.is_alive(rec) and (self.moto_port in (None, node.get("port"))):
            endpoint = f"http://{LOOPBACK}:{node['port']}"
            try:
                wait_for_moto(endpoint, timeout=5)
                return endpoint
            except TimeoutError:
                processes.stop(rec)
        port = self._port_for(state, "moto", self.moto_port)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108  # nosec B108
            "PYTHONPATH": str(ROOT),
            **MOTO_SERVER_ENV,
            # The health API and CloudWatch publisher answer from this stack's state folder.
            SANDBOX_STATE_ENV: str(self.paths.dir),
        }
        rec, _ = processes.spawn(
            moto_server_argv(port), cwd=self.paths.dir, env=env, log=self.paths.logs / "moto.log"
        )
        endpoint = f"http://{LOOPBACK}:{port}"
        with state.update() as data:
            data["moto"] = {"port": port, "process": rec.to_dict(), "started_at": utc_timestamp()}
            data["aws_endpoint_url"] = endpoint
        started.append("moto")
        self.log(f"sandbox[{self.stack}]: started moto on {endpoint} (pid {rec.pid})")
        try:
            wait_for_moto(endpoint, timeout=60)
        except TimeoutError as exc:
            processes.stop(rec)
            raise SandboxError(
                f"moto did not start on {endpoint}: {exc}. Log:\n{processes.tail(rec.log)}"
            ) from exc
        return endpoint

    def _ensure_proxy(
        self,
        state: SandboxState,
        started: list[str],
        tls: tuple[str, list[str]] | None = None,
    ) -> int:
        """The stack's proxy (sandbox/proxy.py) on its stable port, started once and kept.

        With `tls` (api_url's host, the certificate's names) it also listens for HTTPS with a
        certificate for those names, like an ALB with certificateArn; a change of names
        restarts it. verify finds the CA and the listeners' addresses in the state's `tls`.
        """
        node = state.get("proxy") or {}
        rec = processes.ProcessRecord.from_dict(node.get("process"))
        names = tls[1] if tls else None
        serving = [tls[0], *tls[1]] if tls else None  # api_url's host, the certificate's names
        if (
            processes.is_alive(rec)
            and (self.app_port in (None, node.get("port")))
            and node.get("tls_for") == serving
        ):
            return int(node["port"])
        processes.stop(rec)
        port = self._port_for(state, "proxy", self.app_port)
        tls_args: list[str] = []
        tls_port = None
        if tls:
            issued = issue_certificate(self.paths.tls, tls[1])
            recorded = state.get("proxy", "tls_port")
            tls_port = int(recorded) if recorded and not port_in_use(int(recorded)) else free_port()
            tls_args = [
                "--tls-port",
                str(tls_port),
                "--tls-cert",
                str(issued.cert),
                "--tls-key",
                str(issued.key),
            ]
        rec, _ = processes.spawn(
            [
                sys.executable,
                "-m",
                "sandbox.proxy",
                "--port",
                str(port),
                "--target-file",
                str(self.paths.proxy_target),
                *tls_args,
            ],
            cwd=self.project_dir,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)},
            log=self.paths.logs / "proxy.log",
        )
        with state.update() as data:
            data["proxy"] = {
                "port": port,
                "process": rec.to_dict(),
                "started_at": utc_timestamp(),
                "tls_port": tls_port,
                "tls_for": serving,
            }
            data.pop("tls", None)
            if tls:
                host = tls[0]
                data["tls"] = {
                    "names": names,
                    "ca_bundle": str(self.paths.tls / "ca.pem"),
                    "https_port": tls_port,
                    # api_url's host does not resolve to the sandbox: its listeners' addresses
                    "connect_to": {
                        f"{host}:443": f"{LOOPBACK}:{tls_port}",
                        f"{host}:80": f"{LOOPBACK}:{port}",
                    },
                }
        started.append("proxy")
        self.log(
            f"sandbox[{self.stack}]: proxy on {LOOPBACK}:{port}"
            + (f", HTTPS on {LOOPBACK}:{tls_port} for {', '.join(names or [])}" if tls else "")
            + f" (pid {rec.pid})"
        )

        def listening_or_exited() -> str | None:
            if port_in_use(port) and (tls_port is None or port_in_use(tls_port)):
                return "listening"
            return None if processes.is_alive(rec) else "exited"

        try:
            outcome = wait_until(
                listening_or_exited, timeout=15, what="the proxy's port", interval=0.05
            )
        except WaitTimeout:
            outcome = "timed out"
        if outcome != "listening":
            processes.stop(rec)
            raise SandboxError(
                f"the proxy did not listen on {LOOPBACK}:{port}. Log:\n{processes.tail(rec.log)}"
            )
        return port

    def _stop_started(self, state: SandboxState, started: list[str]) -> None:
        """A failed first `up` leaves nothing running (it has nothing worth serving)."""
        with state.update() as data:
            for inst in instances_of(data.get("app")):
                processes.stop(processes.ProcessRecord.from_dict(inst.get("process")))
            for key in ["app", *started]:
                node = data.get(key) or {}
                processes.stop(processes.ProcessRecord.from_dict(node.get("process")))
                data.pop(key, None)
            if "proxy" in started:
                data.pop("tls", None)
            if "moto" in started:
                data.pop("aws_endpoint_url", None)
                data["resources"] = {}
        self.paths.proxy_target.unlink(missing_ok=True)

    def _record_failure(
        self,
        state: SandboxState,
        record: dict[str, Any],
        exc: BaseException,
        mocks: Any,
        runner: EnvironmentRunner | None,
    ) -> None:
        with state.update() as data:
            if mocks is not None:
                # Like Pulumi's partial state: what was realised before the failure is known,
                # and what it replaced is pending delete until the next update.
                old = data.get("resources", {}) or {}
                data["pending_deletes"] = [
                    *(data.get("pending_deletes") or []),
                    *replaced(old, mocks.graph),
                ]
                data["resources"] = {**old, **mocks.graph}
            data["deployments"].append(
                {
                    **record,
                    "result": "interrupted" if as_interrupted(exc) else "failed",
                    "end_time": utc_timestamp(),
                    "message": _one_line(str(exc)) or type(exc).__name__,
                    "app_version": (runner.last_deploy or {}).get("app_version")
                    if runner
                    else None,
                    "app": runner.last_deploy if runner else None,
                    "serving_version": (data.get("app") or {}).get("version"),
                }
            )

    @staticmethod
    def _deploy_message(runner: EnvironmentRunner) -> str:
        last = runner.last_deploy or {}
        action = last.get("action")
        if action == "unchanged":
            return f"app {last.get('app_version')} unchanged"
        if action == "replaced":
            return f"app {last.get('previous_version')} -> {last.get('app_version')}"
        if action == "created":
            return f"app {last.get('app_version')} started"
        return "updated"
