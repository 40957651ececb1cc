"""Elastic Beanstalk's enhanced-health API, answered from the sandbox's own measurements.

moto implements none of DescribeInstancesHealth, DescribeEnvironmentHealth or
AbortEnvironmentUpdate. On AWS the health agent on each instance reads its web server's log and
reports, per 10-second window, the requests it answered: their count, the share of each status
class and latency percentiles. In the sandbox the load balancer (sandbox/proxy.py) measures the
same per instance (status and latency of every request it relayed) and writes them beside its
target file; this module turns those measurements into EB's response shapes. The moto process
(sandbox/moto_main.py) serves them, so the same boto3 client code runs against AWS and here.

Shapes follow botocore's model of the API (elasticbeanstalk 2010-12-01) and AWS's API reference:

* the window ends when the load balancer last wrote its measurements (`RefreshedAt`, four
  times a second here; every 10 s on AWS);
* `ApplicationMetrics.Duration` is the window in seconds (10 on AWS; `10 / time_scale` here,
  at least 1, under `--time-scale`); `RequestCount` the requests answered in it (the API
  reference's own example: "5 requests (request_count) within the most recent time slice of 10
  seconds"); `StatusCodes.Status2xx..5xx` integer percentages of them.
* `Latency.P10..P999` in seconds with millisecond resolution, each "the average latency for the
  slowest X percent of requests": P99 is the mean of the slowest 1 %, P50 of the slowest half.
* `Deployment.VersionLabel` is the version each instance runs (the proxy target names it).

Pure functions of the state folder and a clock, so they are tested without a moto server.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common.jsonfile import read_json, write_json_atomic
from common.paths import StackPaths
from sandbox.proxy import read_metrics

#: AWS's enhanced-health window.
WINDOW_S = 10.0
LATENCY_KEYS = (("P999", 99.9), ("P99", 99.0), ("P95", 95.0), ("P90", 90.0), ("P85", 85.0),
                ("P75", 75.0), ("P50", 50.0), ("P10", 10.0))  # fmt: skip
#: Proxy health state -> (HealthStatus, Color) as EB's enhanced health words them.
HEALTH_WORDS = {
    "healthy": ("Ok", "Green"),
    "initial": ("Pending", "Grey"),
    "unhealthy": ("Severe", "Red"),
    "draining": ("Info", "Green"),
}


class HealthApiError(Exception):
    """An error EB's API would answer (`code`: its error code, `status`: HTTP status)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def window_seconds(time_scale: float) -> float:
    """The health window under `--time-scale` (10 s on AWS; never below one second)."""
    return max(1.0, WINDOW_S / max(float(time_scale or 1.0), 1e-9))


def latency_summary(latencies: Iterable[float]) -> dict[str, float]:
    """EB's Latency: for each PX the mean of the slowest (100 - X) % (at least one request)."""
    ordered = sorted(latencies, reverse=True)
    if not ordered:
        return {}
    out = {}
    for key, pct in LATENCY_KEYS:
        slowest = max(1, math.ceil(len(ordered) * (100.0 - pct) / 100.0))
        out[key] = round(sum(ordered[:slowest]) / slowest, 3)
    return out


def application_metrics(
    requests: Iterable[Iterable[float]], now: float, window_s: float
) -> dict[str, Any]:
    """ApplicationMetrics of the requests answered in (now - window, now]."""
    recent = [(float(t), int(s), float(lat)) for t, s, lat in requests if now - window_s < t <= now]
    metrics: dict[str, Any] = {"Duration": int(round(window_s)), "RequestCount": len(recent)}
    if not recent:
        return metrics
    counts = {cls: 0 for cls in ("2", "3", "4", "5")}
    for _, status, _ in recent:
        key = str(status // 100)
        if key in counts:
            counts[key] += 1
    metrics["StatusCodes"] = {
        f"Status{cls}xx": int(round(100 * n / len(recent))) for cls, n in counts.items()
    }
    metrics["Latency"] = latency_summary(lat for _, _, lat in recent)
    return metrics


class StackHealth:
    """The health API of one sandbox stack, read from its state folder."""

    def __init__(self, state_dir: Path, clock: Any = time.time) -> None:
        self.paths = StackPaths(state_dir.parent, state_dir.name)
        self.clock = clock

    # -- what the state says -------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        try:
            return read_json(self.paths.sandbox, default={}) or {}
        except ValueError:
            return {}

    def _environment(self, state: Mapping[str, Any], name: str | None, env_id: str | None) -> str:
        app = state.get("app") or {}
        env = app.get("environment") or (state.get("deploying") or {}).get("environment")
        if not env or (name and name != env) or (env_id and not name and env_id != self._id(env)):
            raise HealthApiError(
                "InvalidRequestException",
                f"No Environment found for EnvironmentName = '{name or env_id}'.",
            )
        return str(env)

    def _id(self, env: str) -> str:
        # What the realiser reports as the environment's id (sandbox/realise/elasticbeanstalk).
        return "e-" + hashlib.sha256(f"{self.paths.stack}/{env}".encode()).hexdigest()[:10]

    # -- the API -------------------------------------------------------------------------

    def describe_instances_health(
        self,
        environment_name: str | None = None,
        environment_id: str | None = None,
        attribute_names: Iterable[str] = (),
    ) -> dict[str, Any]:
        state = self._state()
        self._environment(state, environment_name, environment_id)
        wanted = set(attribute_names or ())
        everything = "All" in wanted
        metrics = read_metrics(self.paths.proxy_target)
        now = _refreshed(metrics, self.clock())
        window = window_seconds(state.get("time_scale", 1.0))
        deploying = state.get("deploying") or {}
        instances = []
        for port, backend in sorted((metrics.get("backends") or {}).items()):
            entry: dict[str, Any] = {"InstanceId": backend.get("name") or f"i-{port}"}
            status, color = HEALTH_WORDS.get(str(backend.get("state")), ("Unknown", "Grey"))
            version = backend.get("version")
            if everything or "HealthStatus" in wanted:
                entry["HealthStatus"] = status
            if everything or "Color" in wanted:
                entry["Color"] = color
            if everything or "Causes" in wanted:
                entry["Causes"] = (
                    [] if status in ("Ok", "Info") else [f"Instance is {backend.get('state')}."]
                )
            if everything or "LaunchedAt" in wanted:
                entry["LaunchedAt"] = _utc(backend.get("registered_at") or now)
            if everything or "ApplicationMetrics" in wanted:
                entry["ApplicationMetrics"] = application_metrics(
                    backend.get("requests") or [], now, window
                )
            if everything or "Deployment" in wanted:
                entry["Deployment"] = {
                    "VersionLabel": version,
                    "DeploymentId": int(len(state.get("deployments") or []) + 1),
                    "Status": "Deploying"
                    if deploying and version == deploying.get("version")
                    else "Deployed",
                    "DeploymentTime": _utc(backend.get("registered_at") or now),
                }
            if everything or "AvailabilityZone" in wanted:
                entry["AvailabilityZone"] = "sandbox-1a"
            if everything or "InstanceType" in wanted:
                entry["InstanceType"] = "sandbox"
            instances.append(entry)
        result: dict[str, Any] = {"InstanceHealthList": instances}
        if everything or "RefreshedAt" in wanted:
            result["RefreshedAt"] = _utc(now)
        return result

    def describe_environment_health(
        self,
        environment_name: str | None = None,
        environment_id: str | None = None,
        attribute_names: Iterable[str] = (),
    ) -> dict[str, Any]:
        state = self._state()
        env = self._environment(state, environment_name, environment_id)
        wanted = set(attribute_names or ())
        everything = "All" in wanted
        metrics = read_metrics(self.paths.proxy_target)
        now = _refreshed(metrics, self.clock())
        window = window_seconds(state.get("time_scale", 1.0))
        backends = (metrics.get("backends") or {}).values()
        counts = {k: 0 for k in ("NoData", "Unknown", "Pending", "Ok", "Info", "Warning",
                                 "Degraded", "Severe")}  # fmt: skip
        requests: list[Any] = []
        for backend in backends:
            counts[HEALTH_WORDS.get(str(backend.get("state")), ("Unknown", ""))[0]] += 1
            requests += backend.get("requests") or []
        status, color = _environment_status(counts)
        result: dict[str, Any] = {"EnvironmentName": env}
        if everything or "HealthStatus" in wanted:
            result["HealthStatus"] = status
        if everything or "Status" in wanted:
            result["Status"] = "Ready" if not state.get("deploying") else "Updating"
        if everything or "Color" in wanted:
            result["Color"] = color
        if everything or "Causes" in wanted:
            result["Causes"] = [] if status == "Ok" else [f"{status}: see the instances' health"]
        if everything or "ApplicationMetrics" in wanted:
            result["ApplicationMetrics"] = application_metrics(requests, now, window)
        if everything or "InstancesHealth" in wanted:
            result["InstancesHealth"] = counts
        if everything or "RefreshedAt" in wanted:
            result["RefreshedAt"] = _utc(now)
        return result

    def abort_environment_update(
        self, environment_name: str | None = None, environment_id: str | None = None
    ) -> dict[str, Any]:
        """Mark the running update aborted; the rollout in `up` (sandbox/fleet.py) obeys it."""
        state = self._state()
        env = self._environment(state, environment_name, environment_id)
        deploying = state.get("deploying")
        if not deploying:
            raise HealthApiError(
                "InvalidRequestException",
                f"Environment {env} has no abortable operation in progress.",
            )
        write_json_atomic(
            self.paths.abort_request,
            {"by": "AbortEnvironmentUpdate", "at": self.clock(), "version": deploying["version"]},
        )
        return {}


def _environment_status(counts: Mapping[str, int]) -> tuple[str, str]:
    """The environment's health from its instances' (EB: the worst that matters)."""
    if not any(counts.values()):
        return "NoData", "Grey"
    if counts["Ok"] + counts["Info"] == 0:
        return "Severe", "Red"
    if counts["Severe"] or counts["Degraded"]:
        return "Warning", "Yellow"
    return "Ok", "Green"


def environment_health_value(counts: Mapping[str, int]) -> int:
    """CloudWatch's EnvironmentHealth number for an instance count (0 Ok ... 25 Severe)."""
    word = _environment_status(counts)[0]
    return {"Ok": 0, "Info": 1, "Unknown": 5, "NoData": 10, "Warning": 15, "Degraded": 20,
            "Severe": 25}[word]  # fmt: skip


def _refreshed(metrics: Mapping[str, Any], now: float) -> float:
    """When the measurements were taken: the window ends there (EB's RefreshedAt), so a poll
    between two snapshots neither loses the newest requests nor counts a window twice."""
    taken = metrics.get("time")
    return min(float(taken), now) if isinstance(taken, int | float) else now


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(float(t), tz=UTC)
