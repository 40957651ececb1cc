"""Install an unpacked source bundle the way Elastic Beanstalk does: a venv from its requirements.

EB runs ``pip install -r requirements.txt`` from the bundle on each instance; the sandbox does
the same into a fresh venv (no ``--system-site-packages``: only what the bundle's lock brings),
offline: a self-contained bundle from its own ``wheelhouse/`` (the options in its
requirements.txt say so), an index bundle from this machine's wheel pool, the sandbox's stand-in
for PyPI (app/wheelhouse.py). So a bundle that lacks a dependency, pins a conflicting one or
carries a wheel that does not match its hash fails here, naming the package, not only on AWS.

A venv for the ~270 MB ML closure takes ~25 s to build, so it is cached on this machine by the
digest of the bundle's locked closure (``<cache>/venvs/<digest>``) and built at most once per
digest: every later deploy, test and worktree with the same lock reuses it. A self-contained
bundle's wheels are still checked against its lock's hashes at every install (a cache hit must
not hide a replaced wheel).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from app.bundle import REQUIREMENTS_FILE, WHEELHOUSE_DIR, bundle_requirements
from app.lock import LOCK, LockError, Pin, closure_digest, parse_lock_text
from app.wheelhouse import WheelhouseError, cache_dir, ensure_wheelhouse, locked, sha256_file
from sandbox.errors import SandboxError

COMPLETE = ".complete"
#: Imported once into a new venv: rembg's dependency pymatting JIT-compiles with numba at first
#: import and caches the result beside its sources (measured 45-90 s on 2 cores, then ~4 s).
#: An EB instance pays it at its first boot; here it is paid once per venv, not by a health
#: timeout.
WARM_IMPORTS = {"rembg": "import rembg"}


class BundleInstallError(SandboxError):
    """The bundle's requirements do not install (the message names the package)."""


def venvs_dir() -> Path:
    return cache_dir() / "venvs"


def bundle_pins(release: Path) -> list[Pin]:
    path = release / REQUIREMENTS_FILE
    if not path.is_file():
        raise BundleInstallError(f"bundle {release.name} has no {REQUIREMENTS_FILE}")
    try:
        return parse_lock_text(path.read_text(encoding="utf-8"))
    except LockError as exc:
        raise BundleInstallError(f"bundle {REQUIREMENTS_FILE}: {exc}") from None


def check_wheelhouse(release: Path, pins: list[Pin]) -> None:
    """Every pin has its wheel in the bundle's wheelhouse, with a hash the lock allows."""
    house = release / WHEELHOUSE_DIR
    wheels: dict[str, list[Path]] = {}
    for wheel in sorted(house.glob("*.whl")):
        try:
            name = parse_wheel_filename(wheel.name)[0]
        except InvalidWheelFilename:
            continue
        wheels.setdefault(canonicalize_name(name), []).append(wheel)
    problems = []
    for pin in pins:
        found = wheels.get(pin.key, [])
        if not found:
            problems.append(f"{pin.name}=={pin.version}: no wheel in {WHEELHOUSE_DIR}/")
        elif not any(sha256_file(w) in pin.hashes for w in found):
            problems.append(
                f"{pin.name}=={pin.version}: {', '.join(w.name for w in found)} does not match "
                "the lock's hashes"
            )
    if problems:
        raise BundleInstallError("bundle wheelhouse: " + "; ".join(problems))


def self_contained(release: Path) -> bool:
    text = (release / REQUIREMENTS_FILE).read_text(encoding="utf-8")
    return bool(re.search(r"^--no-index\b", text, re.M))


def install_bundle(release: Path) -> Path:
    """The bin folder of a venv holding exactly what the bundle's requirements.txt installs."""
    pins = bundle_pins(release)
    offline = self_contained(release)
    if offline:
        check_wheelhouse(release, pins)
    digest = closure_digest(pins)
    venv = venvs_dir() / digest[:16]
    if (venv / COMPLETE).is_file():
        return venv / "bin"
    with locked(venvs_dir() / f"{digest[:16]}.lock"):
        if not (venv / COMPLETE).is_file():
            build_venv(release, venv, offline=offline, pins=pins)
    return venv / "bin"


def pip_install_command(
    python: Path,
    requirements: Path,
    *,
    find_links: Path | None = None,
    dry_run_report: Path | None = None,
) -> list[str]:
    """pip as EB runs it on the bundle's requirements (plus a local index for index bundles)."""
    cmd = [
        sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
        "--disable-pip-version-check", "--no-cache-dir", "-r", str(requirements),
    ]  # fmt: skip
    if find_links is not None:
        cmd += ["--no-index", "--find-links", str(find_links)]
    if dry_run_report is not None:
        cmd += ["--dry-run", "--ignore-installed", "--report", str(dry_run_report)]
    return cmd


def build_venv(release: Path, venv: Path, *, offline: bool, pins: list[Pin]) -> float:
    """Create `venv` and install the bundle into it; returns the seconds it took."""
    began = time.monotonic()
    find_links = None
    if not offline:
        try:
            find_links = ensure_wheelhouse(pins=pins).files[0].parent if pins else None
        except WheelhouseError as exc:
            raise BundleInstallError(f"bundle {REQUIREMENTS_FILE}: {exc}") from None
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(  # noqa: S603 - fixed command
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True
    )
    result = subprocess.run(  # noqa: S603 - fixed command, the bundle's own requirements file
        pip_install_command(
            venv / "bin" / "python", release / REQUIREMENTS_FILE, find_links=find_links
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        raise BundleInstallError(
            f"the bundle's {REQUIREMENTS_FILE} does not install ({pip_error(result.stderr)}); "
            "EB's pip would fail the same way on every instance"
        )
    for package, statement in WARM_IMPORTS.items():
        if any(p.key == package for p in pins):
            warm = subprocess.run(  # noqa: S603 - fixed command
                [str(venv / "bin" / "python"), "-c", statement],
                capture_output=True,
                text=True,
                check=False,
            )
            if warm.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                raise BundleInstallError(
                    f"the bundle's venv cannot `{statement}`: {pip_error(warm.stderr)}"
                )
    elapsed = time.monotonic() - began
    (venv / COMPLETE).write_text(f"{elapsed:.1f}\n")
    return elapsed


def prepare(lock: Path = LOCK) -> Path:
    """Build (once) the venv every bundle of this lock runs from: `make setup` calls it."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / REQUIREMENTS_FILE).write_text(
            bundle_requirements(lock.read_text(encoding="utf-8"), self_contained=False)
        )
        return install_bundle(Path(tmp))


def main() -> int:
    began = time.monotonic()
    try:
        bin_dir = prepare()
    except (SandboxError, LockError, WheelhouseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    built = (bin_dir.parent / COMPLETE).read_text().strip()
    print(
        f"bundle venv {bin_dir.parent}: ready in {time.monotonic() - began:.1f}s "
        f"(built once in {built}s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def pip_error(stderr: str) -> str:
    """pip's own words about what failed: the ERROR line and the lines that name packages."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.startswith("ERROR")), 0)
    return " ".join(lines[start : start + 4]) or "pip failed without a message"
