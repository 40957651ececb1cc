"""A recording stand-in for the `pulumi` executable (the edge these machines cannot reach).

Put on PATH by `install_stand_in`. Every call appends one JSON line {argv, env, cwd} to
$STAND_IN_PULUMI_LOG and answers the few calls the Automation API makes the way the real CLI
does (pulumi 3.x): `version`; `stack select` of a missing stack fails with "no stack named 'x'
found" (which the SDK maps to StackNotFoundError); `stack init` creates it; `config set-all`
writes nothing here; `preview` writes a summary event to the event log; `refresh
--preview-only` writes the read-back of the resources `drifted` gave (no state changes); `config
get` answers a `secret`; `stack output` and `stack export` answer the stack's outputs and state.
Everything else fails like a CLI error, naming the call. Stacks that exist are listed one per
line in $STAND_IN_PULUMI_STACKS.

`up` and `destroy` are answered only for a stack given a target (`deploy_to`): a live sandbox
stack's outputs.json, standing for what AWS would hold after the real CLI ran the program. `up`
then answers that stack's outputs (refusing a bundle other than the one the target serves, so
it never claims a deployment that did not happen) and adds an entry to `stack history --json`
in the CLI's shape; `destroy` empties the outputs. Per-stack state sits beside the stacks file.

A stack given `emulate_versions` instead answers `up` the way the real CLI and Elastic Beanstalk
would for the program's application version (no live target): declaring a label creates it in
EB, replacing the version the state holds (create before delete: the old entry stays in the
state marked `"delete": true` until the update ends, and a failed update leaves it there);
declaring a label EB already holds is refused ("Application Version ... already exists"); with
PASSPORT_APP_VERSION_EXISTS=true the program references the label and declares no version. An
`up` of a label listed in `fail_labels` fails after the version step, like an environment update
that EB rejects. `stack export` answers these resources.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

VERSION = "v3.205.0"


def _stacks() -> Path:
    return Path(os.environ["STAND_IN_PULUMI_STACKS"])


def _known() -> set[str]:
    path = _stacks()
    return set(path.read_text().split()) if path.exists() else set()


def _value(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv and argv.index(flag) + 1 < len(argv) else None


def _fail(message: str) -> int:
    sys.stderr.write(f"error: {message}\n")
    return 255


def answer(argv: list[str]) -> int:
    words = [a for a in argv if not a.startswith("-")]
    stack = _value(argv, "--stack")
    if words[:1] == ["version"]:
        print(VERSION)
        return 0
    if words[:2] == ["stack", "init"]:
        name = words[2]
        if name in _known():
            return _fail(f"stack '{name}' already exists")
        with _stacks().open("a") as out:
            out.write(name + "\n")
        return 0
    if stack is not None and stack not in _known():
        return _fail(f"no stack named '{stack}' found")
    if words[:2] == ["stack", "select"] or words[:2] == ["config", "set-all"]:
        return 0
    if words[:1] == ["up"] and stack is not None:
        return _up(stack)
    if words[:1] == ["destroy"] and stack is not None:
        return _destroy(stack)
    if words[:2] == ["stack", "history"] and stack is not None:
        size = _value(argv, "--page-size")
        entries = _state(stack).get("history", [])
        print(json.dumps(entries[: int(size)] if size else entries))
        return 0
    if words[:1] == ["preview"]:
        event = {"sequence": 0, "timestamp": 0, "summaryEvent": {"resourceChanges": {}}}
        log = _value(argv, "--event-log")
        if log:
            Path(log).write_text(json.dumps(event) + "\n")
        return 0
    if words[:1] == ["refresh"] and "--preview-only" in argv and stack is not None:
        return _refresh_preview(stack, _value(argv, "--event-log"))
    if words[:2] == ["config", "get"] and stack is not None:
        secrets = _state(stack).get("secrets", {})
        if words[2] not in secrets:
            return _fail(f"configuration key '{words[2]}' not found for stack '{stack}'")
        print(json.dumps({"value": secrets[words[2]], "secret": True}))
        return 0
    if words[:2] == ["stack", "output"]:
        print(json.dumps(_state(stack).get("outputs", {}) if stack else {}))
        return 0
    if words[:2] == ["stack", "export"]:
        state = _state(stack) if stack else {}
        deployment = {"outputs": state.get("outputs", {})}
        if "emulate" in state:
            deployment["resources"] = state["emulate"]["resources"]
        print(json.dumps({"version": 3, "deployment": deployment}))
        return 0
    return _fail(f"the stand-in pulumi does not answer `pulumi {' '.join(words)}`")


def _state_file(stack: str) -> Path:
    return _stacks().with_name(f"state-{stack}.json")


def _state(stack: str) -> dict:
    path = _state_file(stack)
    return json.loads(path.read_text()) if path.exists() else {}


def _save(stack: str, state: dict) -> None:
    _state_file(stack).write_text(json.dumps(state))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


def _record(state: dict, kind: str, result: str, message: str = "") -> None:
    history = state.setdefault("history", [])
    entry = {
        "version": len(history) + 1,
        "kind": kind,
        "startTime": _now(),
        "endTime": _now(),
        "message": message,
        "environment": {"exec.kind": "auto.local"},
        "config": {},
        "result": result,
        "resourceChanges": {"same": len(state.get("outputs", {}))},
    }
    history.insert(0, entry)


def _label(bundle: str) -> str:
    # Run as a script (tests/support/ is its sys.path[0]): the repository root goes first.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    # lazy import: app.bundle costs ~80 ms at start-up of each stand-in call; only `up` needs it
    from app.bundle import bundle_label

    return bundle_label(Path(bundle))


def _version_resource(stack: str, label: str) -> dict:
    urn = (
        f"urn:pulumi:{stack}::passport-photo-backend::passport:backend:PassportPhotoBackend$"
        "passport:app_environment:AppEnvironment$"
        "aws:elasticbeanstalk/applicationVersion:ApplicationVersion::passport-version"
    )
    return {
        "urn": urn,
        "type": "aws:elasticbeanstalk/applicationVersion:ApplicationVersion",
        "id": label,
        "outputs": {"name": label},
    }


def _emulated_up(stack: str, state: dict) -> int:
    """`up` of the program's application version against an emulated EB (see the docstring)."""
    eb = state["emulate"]
    label = _label(os.environ["PASSPORT_APP_BUNDLE"])
    live = [r for r in eb["resources"] if not r.get("delete")]
    if os.environ.get("PASSPORT_APP_VERSION_EXISTS") != "true":
        if label not in [r["outputs"]["name"] for r in live]:
            if label in eb["eb_versions"]:
                _record(state, "update", "failed", "version already exists")
                _save(stack, state)
                return _fail(
                    "creating Elastic Beanstalk Application Version "
                    f"({label}): InvalidParameterValue: Application Version {label} already "
                    "exists."
                )
            eb["eb_versions"].append(label)
            for old in live:  # replaced: deleted at the end of the update
                old["delete"] = True
            eb["resources"].append(_version_resource(stack, label))
    else:
        for old in live:  # no longer declared: deleted at the end of the update
            old["delete"] = True
    if label in eb.get("fail_labels", []):
        _record(state, "update", "failed", "environment update failed")
        _save(stack, state)
        return _fail("updating Elastic Beanstalk Environment: failed to deploy application")
    eb["resources"] = [r for r in eb["resources"] if not r.get("delete")]
    state["outputs"] = {**eb["outputs"], "app_version": label}
    _record(state, "update", "succeeded")
    _save(stack, state)
    print(f"Updating ({stack}):\n\nResources:\n    ~ 1 updated")
    return 0


def _up(stack: str) -> int:
    state = _state(stack)
    if "emulate" in state:
        return _emulated_up(stack, state)
    target = state.get("deploys_to")
    if not target:
        return _fail(f"the stand-in pulumi does not answer `pulumi up` for stack '{stack}'")
    outputs = json.loads(Path(target).read_text())
    bundle = os.environ.get("PASSPORT_APP_BUNDLE")
    if bundle:
        label = _label(bundle)
        if label != outputs.get("app_version"):
            _record(state, "update", "failed", "bundle not what the target serves")
            _save(stack, state)
            return _fail(
                f"stand-in: asked to deploy {label}, but the target "
                f"{target} serves {outputs.get('app_version')}"
            )
    state["outputs"] = outputs
    _record(state, "update", "succeeded")
    _save(stack, state)
    print(f"Updating ({stack}):\n\nResources:\n    {len(outputs)} unchanged")
    return 0


def _protected(stack: str) -> bool:
    """Does the program mark the stack's tables and buckets `protect` (deletionProtection)?"""
    import yaml

    stack_file = Path.cwd() / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        return False
    config = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}
    environment = config.get("passport-photo-backend:environment")
    return bool(config.get("passport-photo-backend:deletionProtection", environment == "prod"))


def _destroy(stack: str) -> int:
    state = _state(stack)
    if _protected(stack):  # the real CLI refuses before deleting anything
        tables = [v for k, v in state.get("outputs", {}).items() if k.endswith("_table")]
        urn = (
            f"urn:pulumi:{stack}::passport-photo-backend::passport:backend:PassportPhotoBackend"
            f"$passport:datastore:Datastore$aws:dynamodb/table:Table::{(tables or ['emails'])[0]}"
        )
        _record(state, "destroy", "failed", "protected resources")
        _save(stack, state)
        return _fail(
            f'resource "{urn}" cannot be deleted\nbecause it is protected. To unprotect the '
            "resource, either remove the `protect` flag from the resource in your Pulumi "
            f"program and run `pulumi up`, or use the command:\n`pulumi state unprotect '{urn}'`"
        )
    state["outputs"] = {}
    _record(state, "destroy", "succeeded")
    _save(stack, state)
    print(f"Destroying ({stack}):\n\nResources:\n    deleted")
    return 0


def _refresh_preview(stack: str, log: str | None) -> int:
    """`refresh --preview-only`: per resource `drifted` set (the state's outputs and AWS's) a
    resourcePreEvent, and a resOutputsEvent unless it is gone; then the summary. The state is
    unchanged."""
    resources = _state(stack).get("refresh", [])
    lines = []
    for res in resources:
        old, new = res["state"], res.get("live")
        changed = new is not None and old != new
        meta = {
            "op": "delete" if new is None else ("update" if changed else "same"),
            "urn": f"urn:pulumi:{stack}::passport-photo-backend::{res['type']}::{res['name']}",
            "type": res["type"],
            "old": {"type": res["type"], "outputs": old},
            "new": {"type": res["type"], "outputs": new} if new is not None else None,
            "diffs": sorted(k for k in old if new is not None and old.get(k) != new.get(k)),
        }
        # a pre-event for each step; an outputs event only for what still exists
        lines.append({"sequence": 0, "timestamp": 0, "resourcePreEvent": {"metadata": meta}})
        if new is not None:
            lines.append({"sequence": 0, "timestamp": 0, "resOutputsEvent": {"metadata": meta}})
    changes: dict[str, int] = {}
    for line in lines:
        if "resourcePreEvent" in line:
            op = line["resourcePreEvent"]["metadata"]["op"]
            changes[op] = changes.get(op, 0) + 1
    for seq, line in enumerate(lines):
        line["sequence"] = seq
    lines.append(
        {"sequence": len(lines), "timestamp": 0, "summaryEvent": {"resourceChanges": changes}}
    )
    if log:
        Path(log).write_text("".join(json.dumps(line) + "\n" for line in lines))
    print(f"Previewing refresh ({stack}):\n\nResources:\n    {changes}")
    return 0


def drifted(folder: Path, stack: str, resources: list[dict]) -> None:
    """What `refresh --preview-only` reads back: [{type, name, state, live}] (live None: gone)."""
    path = folder / f"state-{stack}.json"
    state = json.loads(path.read_text()) if path.exists() else {}
    state["refresh"] = resources
    path.write_text(json.dumps(state))


def secret(folder: Path, stack: str, key: str, value: str) -> None:
    """A config secret `config get` answers decrypted (as the stack's secrets provider would)."""
    path = folder / f"state-{stack}.json"
    state = json.loads(path.read_text()) if path.exists() else {}
    state.setdefault("secrets", {})[key] = value
    path.write_text(json.dumps(state))


def deploy_to(folder: Path, stack: str, outputs_file: Path) -> None:
    """Let `pulumi up --stack <stack>` "deploy" to a live sandbox stack (see the docstring)."""
    path = folder / f"state-{stack}.json"
    state = json.loads(path.read_text()) if path.exists() else {}
    state["deploys_to"] = str(outputs_file)
    path.write_text(json.dumps(state))


def emulate_versions(
    folder: Path, stack: str, outputs: dict, deployed: str, fail_labels: list[str] = ()
) -> None:
    """Let `pulumi up --stack <stack>` emulate EB's application versions (see the docstring),
    starting from `deployed` created by this stack and serving with `outputs`."""
    path = folder / f"state-{stack}.json"
    state = json.loads(path.read_text()) if path.exists() else {}
    state["outputs"] = {**outputs, "app_version": deployed}
    state["emulate"] = {
        "outputs": dict(outputs),
        "eb_versions": [deployed],
        "resources": [_version_resource(stack, deployed)],
        "fail_labels": list(fail_labels),
    }
    path.write_text(json.dumps(state))


def eb_versions(folder: Path, stack: str) -> list[str]:
    """The labels the emulated EB holds (what DescribeApplicationVersions would list)."""
    path = folder / f"state-{stack}.json"
    return list(json.loads(path.read_text())["emulate"]["eb_versions"]) if path.exists() else []


def main() -> int:
    argv = sys.argv[1:]
    record = {"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}
    with open(os.environ["STAND_IN_PULUMI_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")
    return answer(argv)


def install_stand_in(folder: Path, stacks: list[str] = ()) -> dict[str, str]:
    """Write `folder/bin/pulumi`; returns the env vars that put it first on PATH and log it."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    exe = bin_dir / "pulumi"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    (folder / "stacks").write_text("".join(f"{s}\n" for s in stacks))
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "STAND_IN_PULUMI_LOG": str(folder / "calls.jsonl"),
        "STAND_IN_PULUMI_STACKS": str(folder / "stacks"),
    }


def calls(folder: Path) -> list[dict]:
    """Every recorded call, in order."""
    path = folder / "calls.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


if __name__ == "__main__":
    sys.exit(main())
