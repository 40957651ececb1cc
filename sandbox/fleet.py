"""Elastic Beanstalk's deployment policies, played out on the sandbox fleet.

EB (docs: "Deployment policies and settings") rolls a new application version onto the
environment's instances in one of these ways, and so does the sandbox, behind its proxy
(sandbox/proxy.py, the sandbox's load balancer):

* **AllAtOnce**: every instance is taken out of service and switched in place. There is a gap
  with no instance serving; it is measured (`gap_s`) and reported, not hidden.
* **Rolling**: batches of `BatchSize` (percent or fixed) instances leave service, are switched,
  pass health checks and return; capacity drops by one batch meanwhile.
* **RollingWithAdditionalBatch**: first an extra batch of new instances, so capacity never drops.
* **Immutable**: a full new set of instances passes the proxy's health checks before the old
  set is deregistered and drained.
* **TrafficSplitting**: a full new set of instances, as large as the old one, passes health
  checks; then the proxy sends `NewVersionPercent` of requests to it (weighted routing) for
  `EvaluationTime` minutes. If the new instances stay healthy and nobody calls
  AbortEnvironmentUpdate (the sandbox's moto writes `StackPaths.abort_request`), all traffic
  shifts to them and the old set drains; otherwise all traffic returns to the old set and the
  new one is stopped. The sandbox enforces EB's ranges (NewVersionPercent 1-100, EvaluationTime
  3-600); `--time-scale F` (sandbox only) divides the evaluation time by F.

The version *serving* changes exactly once, in `serving.switch_serving_version`, when the
last old instance leaves the proxy. Before that, any failure (or interrupt) stops the
new instances and restores the old fleet (restarting old instances a rolling or in-place step
already stopped); after it, the new version is the environment's version.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from commandline.interrupts import cancelled
from common.jsonfile import read_json
from sandbox import processes
from sandbox.errors import SandboxError, SplitAborted
from sandbox.instances import fleet_record, instance_name, instances_of
from sandbox.proxy import ProxyClient
from sandbox.serving import switch_serving_version
from sandbox.state import SandboxState

NS_ASG = "aws:autoscaling:asg"
NS_COMMAND = "aws:elasticbeanstalk:command"
NS_PROCESS = "aws:elasticbeanstalk:environment:process:default"
NS_SPLIT = "aws:elasticbeanstalk:trafficsplitting"
#: EB's ranges and defaults ("General options for all environments": trafficsplitting).
NEW_VERSION_PERCENT_RANGE = (1, 100)
EVALUATION_TIME_RANGE = (3, 600)
DEFAULT_NEW_VERSION_PERCENT = 10
DEFAULT_EVALUATION_MINUTES = 5
#: How often the evaluation wait looks at the abort mark and the new instances' health.
SPLIT_POLL_S = 0.2
POLICIES = ("AllAtOnce", "Rolling", "RollingWithAdditionalBatch", "Immutable", "TrafficSplitting")
#: The sandbox checks every second (AWS: HealthCheckInterval, 5..300 s) so rollouts take seconds.
SANDBOX_CHECK_INTERVAL_S = 1.0
#: How long a deregistered instance may finish its requests before it is stopped anyway
#: (ALB's deregistration delay; gunicorn then still finishes in-flight work on SIGTERM).
DRAIN_TIMEOUT_S = 30.0


def _setting(settings: list[Mapping[str, Any]], namespace: str, name: str) -> str | None:
    for s in settings:
        if s.get("namespace") == namespace and s.get("name") == name:
            return str(s.get("value"))
    return None


def _ranged(
    settings: list[Mapping[str, Any]], name: str, bounds: tuple[int, int], default: int
) -> int:
    """A trafficsplitting option as EB validates it: an integer within its range."""
    raw = _setting(settings, NS_SPLIT, name)
    if raw is None:
        return default
    low, high = bounds
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise SandboxError(
            f"InvalidParameterValue: {NS_SPLIT} {name}: got {raw!r}; allowed an integer "
            f"{low}-{high}"
        )
    return value


@dataclass(frozen=True)
class FleetShape:
    """Instances, deployment policy, batch and health check, read from the option settings."""

    size: int = 1
    policy: str = "AllAtOnce"
    batch_type: str = "Percentage"
    batch_size: int = 100
    health: dict[str, Any] = field(default_factory=dict)
    new_version_percent: int = DEFAULT_NEW_VERSION_PERCENT
    evaluation_minutes: int = DEFAULT_EVALUATION_MINUTES

    @classmethod
    def from_settings(cls, settings: list[Mapping[str, Any]]) -> FleetShape:
        size = int(_setting(settings, NS_ASG, "MinSize") or 1)
        policy = _setting(settings, NS_COMMAND, "DeploymentPolicy") or "AllAtOnce"
        if policy not in POLICIES:
            raise SandboxError(f"DeploymentPolicy: got {policy!r}; allowed {', '.join(POLICIES)}")
        timeout = float(_setting(settings, NS_PROCESS, "HealthCheckTimeout") or 5)
        health = {
            "path": _setting(settings, NS_PROCESS, "HealthCheckPath") or "/health",
            "interval_s": SANDBOX_CHECK_INTERVAL_S,
            "timeout_s": min(timeout, 5.0),
            # AWS's minimum is 2 for both; more would only slow the sandbox down.
            "healthy_threshold": min(
                int(_setting(settings, NS_PROCESS, "HealthyThresholdCount") or 2), 2
            ),
            "unhealthy_threshold": int(
                _setting(settings, NS_PROCESS, "UnhealthyThresholdCount") or 2
            ),
        }
        return cls(
            size=max(1, size),
            policy=policy,
            batch_type=_setting(settings, NS_COMMAND, "BatchSizeType") or "Percentage",
            batch_size=int(_setting(settings, NS_COMMAND, "BatchSize") or 100),
            health=health,
            new_version_percent=_ranged(
                settings,
                "NewVersionPercent",
                NEW_VERSION_PERCENT_RANGE,
                DEFAULT_NEW_VERSION_PERCENT,
            ),
            evaluation_minutes=_ranged(
                settings, "EvaluationTime", EVALUATION_TIME_RANGE, DEFAULT_EVALUATION_MINUTES
            ),
        )

    def batch(self) -> int:
        """Instances per batch (EB rounds a percentage up, and a batch has at least one)."""
        if self.batch_type == "Fixed":
            return max(1, min(self.batch_size, self.size))
        return max(1, min(self.size, math.ceil(self.size * self.batch_size / 100)))


class FleetRunner(Protocol):
    """What a rollout needs from the environment (sandbox.environment.EnvironmentRunner).

    Its state and proxy, how long an instance may take to get healthy, and starting instances
    of a release (each healthy on its own port when `launch` returns).
    """

    state: SandboxState
    proxy: ProxyClient

    @property
    def health_timeout(self) -> float: ...

    @property
    def time_scale(self) -> float: ...

    def launch(
        self,
        release: Path,
        label: str,
        env_vars: Mapping[str, str],
        names: list[str],
        *,
        cancellable: bool = True,
    ) -> list[dict[str, Any]]: ...


class Rollout:
    """One deployment of a version onto the fleet, by the shape's policy."""

    def __init__(
        self,
        runner: FleetRunner,
        shape: FleetShape,
        meta: dict[str, Any],
        env_vars: Mapping[str, str],
        current: dict[str, Any] | None,
    ) -> None:
        self.runner = runner
        self.state = runner.state
        self.proxy = runner.proxy
        self.shape = shape
        self.meta = {**meta, "env_vars": dict(env_vars)}
        self.env_vars = dict(env_vars)
        self.current = current
        self.old: list[dict[str, Any]] = instances_of(current)
        self.new: list[dict[str, Any]] = []
        self.committed = False
        self.began = time.monotonic()
        self.timeline: list[dict[str, Any]] = []
        self.gap_s: float | None = None
        #: When a rolling deployment took the last serving instance out of service.
        self.gap_started: float | None = None
        self.drain_s: list[float] = []

    # -- reporting -----------------------------------------------------------------------

    def note(self, event: str, **fields: Any) -> None:
        self.timeline.append(
            {"t_s": round(time.monotonic() - self.began, 2), "event": event, **fields}
        )

    def report(self) -> dict[str, Any]:
        return {
            "instances_before": len(self.old),
            "batch": self.shape.batch(),
            "gap_s": self.gap_s,
            "drain_s": self.drain_s,
            "duration_s": round(time.monotonic() - self.began, 2),
            "timeline": self.timeline,
        }

    # -- steps ---------------------------------------------------------------------------

    def launch(self, count: int, names: list[str] | None = None) -> list[dict[str, Any]]:
        names = list(names or [])[:count]
        while len(names) < count:
            names.append(instance_name(self.state.paths.dir, self.meta["version"], len(names)))
        instances = self.runner.launch(
            Path(self.meta["release_dir"]), self.meta["version"], self.env_vars, names
        )
        self.new += instances
        self.note("launched", instances=names)
        return instances

    def register(
        self, instances: list[dict[str, Any]], weights: Mapping[str, int] | None = None
    ) -> int:
        generation = self.proxy.register(instances, self.shape.health, weights)
        self.note("registered", instances=[i["name"] for i in instances])
        return generation

    def in_service(self, instances: list[dict[str, Any]]) -> None:
        self.proxy.wait_healthy(instances, self.runner.health_timeout)
        self.note("in service", instances=[i["name"] for i in instances])

    def drain_and_stop(self, instances: list[dict[str, Any]], generation: int) -> None:
        if not instances:
            return
        self.drain_s.append(self.proxy.wait_drained(instances, generation, DRAIN_TIMEOUT_S))
        stop_all(instances)
        gone = {i["process"]["pid"] for i in instances}
        with self.state.update() as data:
            app = data.get("app")
            if app and "instances" in app:
                app["instances"] = [i for i in app["instances"] if i["process"]["pid"] not in gone]
        self.note("drained and stopped", instances=[i["name"] for i in instances])

    def commit(self) -> int:
        generation = switch_serving_version(
            self.state,
            self.proxy,
            fleet_record(self.meta, list(self.new)),
            list(self.new),
            self.shape.health,
        )
        self.committed = True
        self.note("switched", version=self.meta["version"])
        return generation

    # -- policies ------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        with self.state.update() as data:
            data["deploying"] = {
                "version": self.meta["version"],
                "policy": self.shape.policy,
                "health": self.shape.health,
                "instances": [],
            }
        try:
            if not self.old:
                self.launch(self.shape.size)
                self.commit()
                self.in_service(self.new)
            elif self.shape.policy == "AllAtOnce":
                self.all_at_once()
            elif self.shape.policy in ("Rolling", "RollingWithAdditionalBatch"):
                self.rolling(additional=self.shape.policy == "RollingWithAdditionalBatch")
            elif self.shape.policy == "TrafficSplitting":
                self.traffic_splitting()
            else:
                self.immutable()
        except BaseException as exc:
            if not self.committed:
                self.rollback(exc)
            raise
        with self.state.update() as data:
            data.pop("deploying", None)
        return self.state.get("app")

    def immutable(self) -> None:
        fresh = self.launch(self.shape.size)
        self.register(self.old + fresh)
        self.in_service(fresh)
        generation = self.commit()  # the old set leaves the proxy here
        self.drain_and_stop(self.old, generation)

    def traffic_splitting(self) -> None:
        """EB's TrafficSplitting: a full new set takes NewVersionPercent for EvaluationTime."""
        paths = self.state.paths
        paths.abort_request.unlink(missing_ok=True)  # an abort is for this update only
        fresh = self.launch(self.shape.size)
        self.register(self.old + fresh)
        self.in_service(fresh)
        percent = self.shape.new_version_percent
        # Integer weights in the split's proportion: each old instance (100-p) per new one,
        # each new instance p per old one, so the two sets carry (100-p) : p of the requests.
        weights = {i["name"]: (100 - percent) * len(fresh) for i in self.old}
        weights.update({i["name"]: percent * len(self.old) for i in fresh})
        self.register(self.old + fresh, weights)
        evaluation_s = self.shape.evaluation_minutes * 60 / max(self.runner.time_scale, 1e-9)
        with self.state.update() as data:
            data.setdefault("deploying", {})["split"] = {
                "new_version_percent": percent,
                "evaluation_s": round(evaluation_s, 2),
                "started_at": time.time(),
            }
        self.note("traffic split", percent=percent, evaluation_s=round(evaluation_s, 2))
        self._evaluate(fresh, evaluation_s)
        generation = self.commit()  # all traffic to the new set; the old set leaves the proxy
        self.drain_and_stop(self.old, generation)

    def _evaluate(self, fresh: list[dict[str, Any]], seconds: float) -> None:
        """Hold the split for the evaluation time; an abort or failed health ends it early."""
        ports = {str(i["port"]) for i in fresh}
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            abort = read_json(self.state.paths.abort_request, default=None)
            if abort:
                self.note("aborted", by=abort.get("by", "AbortEnvironmentUpdate"))
                raise SplitAborted(
                    f"AbortEnvironmentUpdate during the traffic split of {self.meta['version']}"
                    f" ({abort.get('reason') or 'no reason given'}); all traffic returned to "
                    f"{(self.current or {}).get('version')}"
                )
            backends = self.proxy.status().get("backends", {})
            failing = sorted(
                backends[p]["name"]
                for p in ports
                if backends.get(p, {}).get("state") == "unhealthy"
            )
            if failing:
                raise SandboxError(
                    f"new instances {failing} failed health checks during the traffic split of "
                    f"{self.meta['version']}; all traffic returned to "
                    f"{(self.current or {}).get('version')}"
                )
            if cancelled():
                raise SandboxError(
                    f"deployment of {self.meta['version']} cancelled during the traffic split; "
                    "the previous version keeps serving"
                )
            time.sleep(min(SPLIT_POLL_S, max(0.0, deadline - time.monotonic())))
        self.note("evaluation passed", seconds=round(seconds, 2))

    def all_at_once(self) -> None:
        out_of_service = time.monotonic()
        generation = self.register([])
        self.drain_and_stop(self.old, generation)
        self.launch(self.shape.size, [i["name"] for i in self.old])
        self.commit()
        self.in_service(self.new)
        self.gap_s = round(time.monotonic() - out_of_service, 2)
        self.note("gap", seconds=self.gap_s)

    def rolling(self, *, additional: bool) -> None:
        size, batch = self.shape.size, self.shape.batch()
        if additional:
            extra = self.launch(batch)
            self.register(self.old + extra)
            self.in_service(extra)
        old_left = list(self.old)
        while old_left:
            leaving, old_left = old_left[:batch], old_left[batch:]
            if old_left:
                generation = self.register(old_left + self.new)
            else:
                if not self.new:  # one batch holds the whole fleet: out of service meanwhile
                    self.gap_started = time.monotonic()
                generation = self.commit()
            self.drain_and_stop(leaving, generation)
            need = min(len(leaving), size - len(self.new))
            if need:
                fresh = self.launch(need, [i["name"] for i in leaving])
                if self.committed:
                    self._grow_committed()
                else:
                    self.register(old_left + self.new)
                self.in_service(fresh)
        if self.gap_started is not None:
            self.gap_s = round(time.monotonic() - self.gap_started, 2)

    def _grow_committed(self) -> None:
        """Instances launched after the switch join the serving fleet's record and targets."""
        self.register(self.new)
        with self.state.update() as data:
            data["app"] = fleet_record(self.meta, list(self.new))

    # -- failure -------------------------------------------------------------------------

    def rollback(self, exc: BaseException) -> None:
        """Stop the new instances; the old version serves on as many instances as before."""
        stop_all(self.new)
        alive = [
            i
            for i in instances_of(self.current)
            if processes.is_alive(processes.ProcessRecord.from_dict(i.get("process")))
        ]
        missing = [i for i in self.old if i not in alive]
        restarted: list[dict[str, Any]] = []
        if missing and self.current and Path(self.current.get("release_dir", "")).is_dir():
            try:
                restarted = self.runner.launch(
                    Path(self.current["release_dir"]),
                    self.current["version"],
                    self.current.get("env_vars") or self.env_vars,
                    [i["name"] for i in missing],
                    cancellable=False,
                )
            except Exception as again:  # noqa: BLE001 - reported with the first failure
                self.note("restoring the old version failed", error=str(again)[:300])
        fleet = alive + restarted
        self.proxy.register(fleet, self.shape.health)
        with self.state.update() as data:
            if self.current:
                data["app"] = {**fleet_record(dict(self.current), fleet)}
                for key in ("started_at", "healthy_after_s"):
                    data["app"][key] = self.current.get(key)
            data.pop("deploying", None)
        self.note(
            "rolled back",
            reason=type(exc).__name__,
            restarted=[i["name"] for i in restarted],
        )
        if restarted and isinstance(exc, SandboxError):
            exc.args = (
                f"{exc.args[0]}\n(the previous version {self.current['version']} was restarted "
                f"on {len(restarted)} instance(s) that the {self.shape.policy} deployment had "
                f"already switched)",
            )


def stop_all(instances: list[dict[str, Any]]) -> None:
    """Stop instances in parallel (each: SIGTERM, gunicorn finishes in-flight requests)."""
    records = [processes.ProcessRecord.from_dict(i.get("process")) for i in instances]
    if not records:
        return
    with ThreadPoolExecutor(max_workers=len(records)) as pool:
        list(pool.map(processes.stop, records))
