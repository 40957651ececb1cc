"""The app instances of a stack's EB environment, as sandbox.json records them.

The environment (sandbox/environment.py) starts instances and the rollout (sandbox/fleet.py)
moves them in and out of service; both read and write the same records, so the record shapes
live here, below both:

* an **instance**: `{"name", "port", "version", "process", "release_dir", "healthy_after_s"}`,
  named like an EC2 instance id;
* the **fleet record** `state["app"]`: the serving version's metadata and its instances.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sandbox.state import utc_timestamp


def instance_name(stack_dir: Path, label: str, index: int) -> str:
    """An EC2-like instance id, unique per launch (`i-` + 17 hex)."""
    seed = f"{stack_dir}/{label}/{index}/{time.time_ns()}/{os.getpid()}"
    return "i-" + hashlib.sha256(seed.encode()).hexdigest()[:17]


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
