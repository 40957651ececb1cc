"""The locked closure as wheels for the EB target, cached on this machine by the lock's digest.

    python -m app.wheelhouse fetch [--lock app/requirements.txt]   # `make wheelhouse`

A self-contained bundle carries these wheels (app/bundle.py), so an instance installs with
``--no-index`` and never talks to PyPI; the sandbox builds each bundle's venv from them
(sandbox/bundle_venv.py). Wheels are downloaded once per machine into one pool shared by every
worktree and lock (``$PASSPORT_CACHE_DIR``, else ``$XDG_CACHE_HOME/passport-photo``, else
``~/.cache/passport-photo``): a pool file is used only when its sha256 is one of the lock's
hashes for that pin, and a manifest per lock digest makes the second look-up a file read. A
lock that differs by one package (a test's tampered copy) reuses the pool and downloads nothing.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from app.lock import LOCK, TARGET_PYTHON, LockError, Pin, closure_digest, read_lock

CACHE_ENV = "PASSPORT_CACHE_DIR"
#: pip's --platform tags for the EB instance (glibc 2.34): pip does not widen a manylinux tag
#: to the older ones it implies, so each is named.
PLATFORMS = tuple(f"manylinux_2_{minor}_x86_64" for minor in range(34, 16, -1)) + (
    "manylinux2014_x86_64",
    "manylinux_2_5_x86_64",
    "manylinux1_x86_64",
)


class WheelhouseError(RuntimeError):
    """A locked package has no wheel for the EB target, or the download failed."""


@dataclass(frozen=True)
class Wheelhouse:
    digest: str
    files: tuple[Path, ...]

    @property
    def size(self) -> int:
        return sum(f.stat().st_size for f in self.files)


def cache_dir() -> Path:
    """This machine's cache for wheels and the sandbox's bundle venvs (shared by worktrees)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "passport-photo"


def pool_dir() -> Path:
    return cache_dir() / "wheels"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock file: parallel tests and worktrees fill one cache entry once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _pool_hashes(pool: Path) -> dict[str, str]:
    """sha256 of every pool wheel, remembered by name and size (hashing 250 MB takes a while)."""
    index_path = pool / ".sha256.json"
    try:
        known = json.loads(index_path.read_text())
    except (OSError, ValueError):
        known = {}
    hashes, changed = {}, False
    for wheel in sorted(pool.glob("*.whl")):
        key = f"{wheel.name}:{wheel.stat().st_size}"
        if key not in known:
            known[key], changed = sha256_file(wheel), True
        hashes[wheel.name] = known[key]
    if changed:
        index_path.write_text(json.dumps(known, indent=0, sort_keys=True))
    return hashes


def _match(pins: list[Pin], hashes: dict[str, str]) -> tuple[dict[str, str], list[Pin]]:
    by_pin: dict[str, str] = {}
    for name, digest in sorted(hashes.items()):
        try:
            dist, version, _, _ = parse_wheel_filename(name)
        except InvalidWheelFilename:
            continue
        for pin in pins:
            if dist == pin.key and str(version) == pin.version and digest in pin.hashes:
                by_pin.setdefault(pin.key, name)
    return by_pin, [p for p in pins if p.key not in by_pin]


def _download(pins: list[Pin], pool: Path) -> None:
    lines = [
        f"{p.name}=={p.version} " + " ".join(f"--hash=sha256:{h}" for h in p.hashes) for p in pins
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        req.write("\n".join(lines) + "\n")
    platforms = [arg for tag in PLATFORMS for arg in ("--platform", tag)]
    cmd = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--no-deps", "--only-binary=:all:", "--require-hashes", *platforms,
        "--python-version", TARGET_PYTHON, "--implementation", "cp",
        "--abi", "cp" + TARGET_PYTHON.replace(".", ""), "-d", str(pool), "-r", req.name,
    ]  # fmt: skip
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    finally:
        os.unlink(req.name)
    if result.returncode != 0:
        tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-4:])
        raise WheelhouseError(f"downloading {', '.join(p.name for p in pins)} failed: {tail}")


def ensure_wheelhouse(lock: Path = LOCK, pins: list[Pin] | None = None) -> Wheelhouse:
    """The target wheels of every pin of `lock` (or `pins`), downloading only what is missing."""
    pins = read_lock(lock) if pins is None else pins
    digest = closure_digest(pins)
    pool = pool_dir()
    manifest = cache_dir() / "wheelhouse" / f"{digest}.json"
    files = _from_manifest(manifest, pool)
    if files is not None:
        return Wheelhouse(digest, files)
    with locked(cache_dir() / "wheels.lock"):
        pool.mkdir(parents=True, exist_ok=True)
        by_pin, missing = _match(pins, _pool_hashes(pool))
        if missing:
            _download(missing, pool)
            by_pin, missing = _match(pins, _pool_hashes(pool))
        if missing:
            raise WheelhouseError(
                "no wheel for the EB target (manylinux x86_64, CPython "
                f"{TARGET_PYTHON}) matches the lock's hashes: "
                + ", ".join(f"{p.name}=={p.version}" for p in missing)
            )
        manifest.parent.mkdir(parents=True, exist_ok=True)
        names = sorted(by_pin.values())
        manifest.write_text(json.dumps({"lock_digest": digest, "wheels": names}, indent=1))
    return Wheelhouse(digest, tuple(pool / n for n in names))


def _from_manifest(manifest: Path, pool: Path) -> tuple[Path, ...] | None:
    try:
        names = json.loads(manifest.read_text())["wheels"]
    except (OSError, ValueError, KeyError):
        return None
    files = tuple(pool / n for n in names)
    return files if all(f.is_file() for f in files) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.wheelhouse", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=("fetch",))
    parser.add_argument("--lock", default=str(LOCK))
    args = parser.parse_args(argv)
    try:
        house = ensure_wheelhouse(Path(args.lock))
    except (LockError, WheelhouseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"wheelhouse {house.digest[:12]}: {len(house.files)} wheels, "
        f"{house.size / 1e6:.0f} MB in {pool_dir()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
