"""The app's runtime lock: its direct dependencies resolved into one hashed closure.

    python -m app.lock compile   # `make lock`: app/requirements.in -> app/requirements.txt
    python -m app.lock check     # `make lint`: fails when the lock is stale

Why a lock: EB runs ``pip install -r requirements.txt`` on every instance it launches, so a file
of direct pins resolves its transitive dependencies anew each time (protobuf 5 -> 7 overnight).
The lock pins the whole closure with sha256 hashes, for the EB target (Linux x86_64,
CPython 3.11), and everything that installs the app installs from it: the project venv
(``make setup``), the bundle's wheelhouse (app/wheelhouse.py) and so the sandbox and EB.

The tool is uv (pinned in requirements-dev.txt), because it resolves for a *named* target
(``--python-platform``/``--python-version``) wherever it runs, so a lock made on a laptop of
another OS or arch still describes the EB instance; pip-tools resolves only for the interpreter
that runs it. The resolution is constrained by requirements.lock (the project venv's freeze), so
the closure is the versions the tests run.

Staleness is judged offline and deterministically (no index needed in `make lint`): the lock
records the sha256 of the input file it was made from, every direct requirement must be
satisfied by a hashed pin, and the pins must agree with requirements.lock.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from common.paths import APP_DIR, ROOT

INPUT = APP_DIR / "requirements.in"
LOCK = APP_DIR / "requirements.txt"
PROJECT_LOCK = ROOT / "requirements.lock"
#: The EB target the closure is resolved for (the Python 3.11 platform on Amazon Linux 2023).
TARGET_PLATFORM = "x86_64-manylinux_2_34"
TARGET_PYTHON = "3.11"
INPUT_DIGEST_PREFIX = "# input sha256: "
CLOSURE_DIGEST_PREFIX = "# closure sha256: "


class LockError(RuntimeError):
    """The lock is missing, unparseable or stale; the message says what to run."""


@dataclass(frozen=True)
class Pin:
    """One locked package: ``name[extras]==version`` and the hashes pip must see."""

    name: str
    version: str
    extras: tuple[str, ...]
    hashes: tuple[str, ...]

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)


def logical_lines(text: str) -> list[str]:
    """pip's requirement-file lines: continuations joined, comments dropped."""
    joined = re.sub(r"\\\r?\n", " ", text)
    lines = []
    for raw in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if line:
            lines.append(line)
    return lines


def parse_lock_text(text: str) -> list[Pin]:
    """The pins of a hashed lock (options such as --no-index are skipped)."""
    pins = []
    for line in logical_lines(text):
        if line.startswith("-"):
            continue
        parts = line.split()
        hashes = tuple(
            p.split("=", 1)[1].removeprefix("sha256:") for p in parts[1:] if p.startswith("--hash")
        )
        try:
            req = Requirement(parts[0])
        except InvalidRequirement as exc:
            raise LockError(f"unparseable lock line {parts[0]!r}: {exc}") from exc
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==":
            raise LockError(f"{req.name} is not pinned with == in the lock")
        pins.append(Pin(req.name, specs[0].version, tuple(sorted(req.extras)), hashes))
    return pins


def read_lock(path: Path = LOCK) -> list[Pin]:
    if not path.is_file():
        raise LockError(f"{path} is missing; run `make lock`")
    return parse_lock_text(path.read_text(encoding="utf-8"))


def lock_digest(path: Path = LOCK) -> str:
    """sha256 of the lock's pins and hashes (comments and layout do not count).

    Caches keyed by it (the wheelhouse, the sandbox's venvs) are shared by every file that
    locks the same closure.
    """
    return closure_digest(read_lock(path))


def closure_digest(pins: list[Pin]) -> str:
    digest = hashlib.sha256()
    for pin in sorted(pins, key=lambda p: p.key):
        digest.update(f"{pin.key}=={pin.version}[{','.join(pin.extras)}]".encode())
        digest.update(("," + ",".join(sorted(pin.hashes)) + "\n").encode())
    return digest.hexdigest()


def input_digest(path: Path = INPUT) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def recorded_input_digest(lock_text: str, prefix: str = INPUT_DIGEST_PREFIX) -> str | None:
    for line in lock_text.splitlines():
        if line.startswith(prefix):
            return line.removeprefix(prefix).strip()
    return None


def _versions(path: Path) -> dict[str, str]:
    found = {}
    for line in logical_lines(path.read_text(encoding="utf-8")):
        name, sep, version = line.partition("==")
        if sep and not line.startswith("-"):
            found[canonicalize_name(name.split("[")[0])] = version.split()[0]
    return found


def stale_reasons(
    lock: Path = LOCK, source: Path = INPUT, project_lock: Path | None = PROJECT_LOCK
) -> list[str]:
    """Why the lock does not describe its input (empty: it is current)."""
    if not lock.is_file():
        return [f"{lock} is missing; run `make lock`"]
    text = lock.read_text(encoding="utf-8")
    reasons = []
    recorded = recorded_input_digest(text)
    if recorded != input_digest(source):
        reasons.append(
            f"{source.name} changed since the lock was made (lock records "
            f"{recorded or 'no input digest'}, input is {input_digest(source)})"
        )
    try:
        pins = {p.key: p for p in parse_lock_text(text)}
    except LockError as exc:
        return [*reasons, str(exc)]
    made = recorded_input_digest(text, CLOSURE_DIGEST_PREFIX)
    if made != closure_digest(list(pins.values())):
        reasons.append(
            "the pins or hashes were edited by hand since `make lock` (closure digest "
            f"{closure_digest(list(pins.values()))}, lock records {made or 'none'})"
        )
    for line in logical_lines(source.read_text(encoding="utf-8")):
        if line.startswith("-"):
            continue
        req = Requirement(line)
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            reasons.append(f"{req.name} is a direct dependency but is not in the lock")
        elif not req.specifier.contains(pin.version, prereleases=True):
            reasons.append(f"{req.name}: input wants {req.specifier}, lock has {pin.version}")
        elif not set(req.extras) <= set(pin.extras):
            reasons.append(f"{req.name}: input wants extras {sorted(req.extras)}, lock lacks them")
    reasons += [
        f"{p.name}=={p.version} has no --hash in the lock" for p in pins.values() if not p.hashes
    ]
    if project_lock is not None and project_lock.is_file():
        venv = _versions(project_lock)
        for pin in pins.values():
            if pin.key in venv and venv[pin.key] != pin.version:
                reasons.append(
                    f"{pin.name}: lock has {pin.version}, the project venv "
                    f"({project_lock.name}) has {venv[pin.key]}; tests would not run what ships"
                )
    return reasons


def compile_lock(source: Path = INPUT, lock: Path = LOCK, constraints: Path = PROJECT_LOCK) -> Path:
    """Resolve `source` for the EB target with uv; write `lock` with the input's digest in it."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        raise LockError("uv is not installed; run `make setup` (requirements-dev.txt pins it)")
    tmp = lock.with_suffix(".tmp")
    cmd = [
        uv, "pip", "compile", str(source), "--output-file", str(tmp), "--quiet",
        "--generate-hashes", "--no-strip-extras", "--python-version", TARGET_PYTHON,
        "--python-platform", TARGET_PLATFORM, "--custom-compile-command", "make lock",
    ]  # fmt: skip
    if constraints.is_file():
        cmd += ["--constraint", str(constraints)]
    subprocess.run(cmd, check=True, cwd=ROOT)  # noqa: S603 - fixed command, our own files
    body = tmp.read_text(encoding="utf-8")
    tmp.unlink()
    header = (
        f"{INPUT_DIGEST_PREFIX}{input_digest(source)}\n"
        f"{CLOSURE_DIGEST_PREFIX}{closure_digest(parse_lock_text(body))}\n"
        f"# target: {TARGET_PLATFORM}, CPython {TARGET_PYTHON}; "
        f"constrained by {constraints.name}\n"
    )
    lines = body.splitlines(keepends=True)
    # after uv's own two header lines (what made it, with which command)
    lines.insert(2 if len(lines) > 2 and lines[1].startswith("#") else 0, header)
    lock.write_text("".join(lines), encoding="utf-8")
    return lock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.lock", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("compile", "check", "digest"))
    parser.add_argument("--input", default=str(INPUT), help="direct dependencies (requirements.in)")
    parser.add_argument("--lock", default=str(LOCK), help="the hashed lock (requirements.txt)")
    parser.add_argument("--project-lock", default=str(PROJECT_LOCK))
    args = parser.parse_args(argv)
    lock, source = Path(args.lock), Path(args.input)
    try:
        if args.command == "compile":
            compile_lock(source, lock, Path(args.project_lock))
            print(f"{lock}: {len(read_lock(lock))} packages, digest {lock_digest(lock)[:12]}")
            return 0
        if args.command == "digest":
            print(lock_digest(lock))
            return 0
    except (LockError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    reasons = stale_reasons(lock, source, Path(args.project_lock))
    if reasons:
        print(f"error: {lock} is stale; run `make lock`:", file=sys.stderr)
        for reason in reasons:
            print(f"  - {reason}", file=sys.stderr)
        return 1
    print(f"{lock}: current ({len(read_lock(lock))} packages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
