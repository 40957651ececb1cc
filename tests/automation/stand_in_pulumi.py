"""A recording stand-in for the `pulumi` executable (the edge these machines cannot reach).

Put on PATH by `install_stand_in`. Every call appends one JSON line {argv, env, cwd} to
$STAND_IN_PULUMI_LOG and answers the few calls the Automation API makes the way the real CLI
does (pulumi 3.x): `version`; `stack select` of a missing stack fails with "no stack named 'x'
found" (which the SDK maps to StackNotFoundError); `stack init` creates it; `config set-all`
writes nothing here; `preview` writes a summary event to the event log; `stack output` and
`stack export` answer an empty stack. Everything else fails like a CLI error, naming the call.
Stacks that exist are listed one per line in $STAND_IN_PULUMI_STACKS.
"""

from __future__ import annotations

import json
import os
import stat
import sys
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
    if words[:1] == ["preview"]:
        event = {"sequence": 0, "timestamp": 0, "summaryEvent": {"resourceChanges": {}}}
        log = _value(argv, "--event-log")
        if log:
            Path(log).write_text(json.dumps(event) + "\n")
        return 0
    if words[:2] == ["stack", "output"]:
        print("{}")
        return 0
    if words[:2] == ["stack", "export"]:
        print(json.dumps({"version": 3, "deployment": {}}))
        return 0
    return _fail(f"the stand-in pulumi does not answer `pulumi {' '.join(words)}`")


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
