"""Which version serves: the one switch that changes it, and the repair of a half-done one.

The environment (a first deployment, a redeploy) and the rollout policies (sandbox/fleet.py)
both change the serving version, and both must do it the same way: the proxy's targets, the
sandbox state and the outputs' `app_version` change together, or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from commandline.interrupts import deferred
from common.jsonfile import read_json, write_json_atomic
from sandbox import processes
from sandbox.instances import instances_of
from sandbox.proxy import ProxyClient
from sandbox.state import SandboxState


def switch_serving_version(
    state: SandboxState,
    proxy: ProxyClient,
    new_app: dict[str, Any],
    registered: list[dict[str, Any]],
    health: Mapping[str, Any],
) -> int:
    """THE switch of serving version: proxy targets, sandbox state and the outputs'
    `app_version` change together, or not at all.

    A journal (`state["switch"]`) is written first; the target file's atomic rename is the
    commit point; then `app` and outputs.json are written and the journal is cleared. SIGINT /
    SIGTERM are held back for these few writes; a harder stop (SIGKILL, power loss) is finished
    or undone by `recover_interrupted_switch` on the next command, which decides by what the
    target file says. Returns the proxy generation that deregistered the old set.
    """
    with deferred():
        with state.update() as data:
            data["switch"] = {"app": new_app, "registered": registered}
        generation = proxy.register(registered, health)  # commit point
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
    """outputs.json as a dict; None when there is none (or it is not a JSON object)."""
    try:
        data = read_json(path, default=None)
    except ValueError:  # CorruptJSONError, or not even text
        return None
    return data if isinstance(data, dict) else None


def recover_interrupted_switch(state: SandboxState, proxy: ProxyClient) -> str | None:
    """Finish or undo a switch / rollout a killed process left half-done ('finished'/'undone').

    If the target file already names the new set the switch committed: state and outputs are
    brought up to it. Otherwise the new version never served: its instances are stopped and the
    old fleet (whatever of it still runs) stays registered.
    """
    pending = state.get("switch")
    deploying = state.get("deploying")
    if not pending and not deploying:
        return None
    registered = {int(b["port"]) for b in proxy.registered()}
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
    proxy.register(alive, (deploying or {}).get("health") or {})
    with state.update() as data:
        data.pop("switch", None)
        data.pop("deploying", None)
    return "undone"
