"""The licence gate: every package of a locked closure carries a licence we may ship.

    python -m supplychain.licences [--lock FILE] [--python PY] [--policy FILE]

The closure is what the lock pins (one `name==version` per package); the licences are read by
pip-licenses from the installed distributions of the interpreter `--python` (the project venv by
default, which `make setup` installs from that same lock). A package's licence is taken as an
SPDX expression — from its `License-Expression`, `License` or trove classifiers, with the
policy's aliases turning legacy names into SPDX — and is allowed when the expression is:
an allowed identifier, an `OR` with an allowed side, an `AND` whose sides are all allowed, or
`X WITH exception` where X and the exception are allowed. Anything else fails, and so does a
licence we cannot read or a locked package that is not installed: a gate that could not check
does not pass.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from license_expression import (
    AND,
    OR,
    ExpressionError,
    LicenseSymbol,
    LicenseWithExceptionSymbol,
    get_spdx_licensing,
)
from rich.console import Console
from rich.table import Table

from common.paths import APP_DIR

POLICY = Path(__file__).with_name("allowed_licences.toml")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
_LICENSING = get_spdx_licensing()


@dataclass(frozen=True)
class Policy:
    allowed: frozenset[str]
    aliases: dict[str, str]

    @classmethod
    def load(cls, path: Path = POLICY) -> Policy:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return cls(frozenset(data["allowed"]), dict(data.get("aliases", {})))


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    licence: str
    spdx: str
    ok: bool
    reason: str


def canonical(name: str) -> str:
    """PEP 503 name, so the lock's `Flask` and the metadata's `flask` meet."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_packages(lock: Path) -> dict[str, str]:
    """`name → version` for each `name==version` line of a requirements-style lock."""
    pins: dict[str, str] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[canonical(match.group(1))] = match.group(2)
    if not pins:
        raise SystemExit(f"licences: {lock} pins no packages (expected name==version lines)")
    return pins


def installed_licences(python: str, packages: Sequence[str]) -> dict[str, dict[str, str]]:
    """pip-licenses' view of `packages` in the interpreter `python`: `name → row`."""
    result = subprocess.run(  # noqa: S603 - our pinned tool, our arguments
        [
            sys.executable,
            "-m",
            "piplicenses",
            "--python",
            python,
            "--from=mixed",
            "--with-system",
            "--format=json",
            "--packages",
            *packages,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"licences: pip-licenses failed ({result.returncode}): {result.stderr}")
    return {canonical(row["Name"]): row for row in json.loads(result.stdout)}


def to_spdx(licence: str, policy: Policy) -> str:
    """A licence field as one SPDX expression; '' when nothing in it names a licence.

    pip-licenses joins several classifiers with '; ' (each one names the same package's
    licence, e.g. 'Apache Software License; BSD License' for a dual-licensed package): they
    become alternatives.
    """
    parts = []
    for piece in (p.strip() for p in licence.split(";")):
        if not piece or piece == "UNKNOWN":
            continue
        spdx = policy.aliases.get(piece, piece)
        if spdx:
            parts.append(f"({spdx})" if " " in spdx else spdx)
    return " OR ".join(parts)


def allowed(expression: object, policy: Policy) -> bool:
    if isinstance(expression, OR):
        return any(allowed(arg, policy) for arg in expression.args)
    if isinstance(expression, AND):
        return all(allowed(arg, policy) for arg in expression.args)
    if isinstance(expression, LicenseWithExceptionSymbol):
        return (
            expression.license_symbol.key in policy.allowed
            and expression.exception_symbol.key in policy.allowed
        )
    if isinstance(expression, LicenseSymbol):
        return expression.key in policy.allowed
    return False


def judge(package: str, version: str, licence: str, policy: Policy) -> Finding:
    spdx = to_spdx(licence, policy)
    if not spdx:
        return Finding(package, version, licence, "", False, "no licence in its metadata")
    try:
        expression = _LICENSING.parse(spdx, validate=True, strict=False)
    except ExpressionError as exc:
        return Finding(
            package, version, licence, spdx, False, f"unrecognised licence ({exc}); add an alias"
        )
    ok = allowed(expression, policy)
    reason = "allowed" if ok else "not in the allowlist (supplychain/allowed_licences.toml)"
    return Finding(package, version, licence, expression.render(), ok, reason)


def check(lock: Path, python: str, policy: Policy) -> list[Finding]:
    pins = locked_packages(lock)
    rows = installed_licences(python, sorted(pins))
    findings = []
    for name, version in sorted(pins.items()):
        row = rows.get(name)
        if row is None:
            findings.append(
                Finding(name, version, "", "", False, "locked but not installed: not checked")
            )
            continue
        findings.append(judge(name, row["Version"], row["License"], policy))
    return findings


def render(findings: Sequence[Finding], console: Console) -> None:
    table = Table(title="Licences of the locked closure", show_lines=False)
    for column in ("package", "version", "licence (metadata)", "SPDX", "verdict"):
        table.add_column(column)
    for f in findings:
        verdict = "ok" if f.ok else f"[bold red]REFUSED[/]: {f.reason}"
        table.add_row(f.package, f.version, f.licence[:60], f.spdx, verdict)
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=APP_DIR / "requirements.txt")
    parser.add_argument("--python", default=sys.executable, help="interpreter whose packages")
    parser.add_argument("--policy", type=Path, default=POLICY)
    args = parser.parse_args(argv)
    findings = check(args.lock, args.python, Policy.load(args.policy))
    console = Console(width=160)
    render(findings, console)
    refused = [f for f in findings if not f.ok]
    for f in refused:
        print(
            f"licences: {f.package} {f.version}: licence {f.licence or '(none)'!r} — {f.reason}",
            file=sys.stderr,
        )
    print(f"licences: {len(findings) - len(refused)} of {len(findings)} packages allowed")
    return 1 if refused else 0


if __name__ == "__main__":
    raise SystemExit(main())
