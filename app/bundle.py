"""Reproducible Elastic Beanstalk source bundle: same sources -> byte-identical zip.

    python -m app.bundle [--out DIR] [--model u2netp] [--source DIR] [--json]

The version label is ``v-`` + the first 12 hex digits of a sha256 over the bundle's members
(names and bytes, in archive order), so it changes exactly when the deployed files change and
anyone can recompute it from the zip (rollback finds old versions by label). The bundle carries
it in a ``VERSION`` file that the app reads: a deploy of new code then changes only the EB
version label, never the environment's option settings (AWS documents `UpdateEnvironment` as
refusing both at once, and a settings change can bypass the deployment policy).
Determinism comes from: an allowlist of what goes in (sorted), fixed timestamps (1980-01-01),
fixed permissions, and fixed compression settings.

What goes in: ``application.py``, ``Procfile``, ``gunicorn.conf.py``, ``requirements.txt``,
``passport_app/**`` (no caches), ``.platform/**`` (nginx upload limit) and only the configured
``models/<model>.onnx``. The repo-side tools beside them (this file, ``models.py``,
``warmup.py``, ``__init__.py``), tests, caches and anything secret-looking never do.

Dependencies: the bundle's ``requirements.txt`` is the app's hashed lock (app/lock.py) with pip
options in front of it, so EB's own ``pip install -r requirements.txt`` honours them. A
*self-contained* bundle (the default; stack setting ``selfContainedBundle``) also carries
``wheelhouse/``, the locked closure's wheels for the EB target (app/wheelhouse.py), and its
requirements say ``--no-index --find-links wheelhouse --require-hashes``: no instance talks to
PyPI, and a scale-out or a rollback installs the very wheels that were tested. Without it the
bundle installs the same hashed pins from the index (``--require-hashes`` still refuses any
other file).
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import io
import json
import os
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.lock import LockError, parse_lock_text
from app.models import APP_TFLITE, MODELS, ModelError, check, check_tflite
from app.wheelhouse import WheelhouseError, ensure_wheelhouse
from common.paths import APP_DIR, ROOT

DEFAULT_OUT = ROOT / "build" / "bundles"

#: What the bundle holds besides TREES and the models (the one list: sandbox variants copy it).
TOP_LEVEL_FILES = ("application.py", "Procfile", "gunicorn.conf.py", "requirements.txt")
#: The member holding the version label (read by passport_app.config at start-up).
VERSION_FILE = "VERSION"
#: The pip requirements EB installs (generated from the lock) and the folder of wheels beside it.
REQUIREMENTS_FILE = "requirements.txt"
WHEELHOUSE_DIR = "wheelhouse"
SELF_CONTAINED_OPTIONS = (
    "--no-index",
    f"--find-links {WHEELHOUSE_DIR}",
    "--only-binary :all:",
    "--require-hashes",
)
INDEX_OPTIONS = ("--only-binary :all:", "--require-hashes")
TREES = ("passport_app", ".platform")
EXCLUDED_PATTERNS = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    ".DS_Store",
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "*credentials*",
    "*secret*",
    ".pytest_cache",
    "tests",
)
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644


class BundleError(RuntimeError):
    """The bundle cannot be built; the message says what to run or fix."""


@dataclass(frozen=True)
class Bundle:
    path: Path
    version_label: str
    sha256: str
    model: str
    self_contained: bool = True


def bundle_label(path: str | os.PathLike[str]) -> str:
    """The label recomputed from a bundle's members (everything but VERSION itself)."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if info.filename == VERSION_FILE:
                continue
            with zf.open(info) as member:
                _digest_member(digest, info.filename, member)
    return "v-" + digest.hexdigest()[:12]


def _digest_member(digest: Any, name: str, stream: Any) -> None:
    member = hashlib.sha256()
    while chunk := stream.read(1 << 20):
        member.update(chunk)
    digest.update(f"{name}\0{member.hexdigest()}\n".encode())


def _members_label(members: list[tuple[str, Path | bytes]]) -> str:
    digest = hashlib.sha256()
    for arcname, source in members:
        if isinstance(source, bytes):
            _digest_member(digest, arcname, io.BytesIO(source))
            continue
        with open(source, "rb") as stream:
            _digest_member(digest, arcname, stream)
    return "v-" + digest.hexdigest()[:12]


def bundle_requirements(lock_text: str, *, self_contained: bool) -> str:
    """The bundle's requirements.txt: pip options for EB's pip, then the hashed lock."""
    options = SELF_CONTAINED_OPTIONS if self_contained else INDEX_OPTIONS
    how = (
        "offline, from the wheels in wheelhouse/ beside this file"
        if self_contained
        else "from the package index"
    )
    body = "".join(line for line in lock_text.splitlines(keepends=True) if not line.startswith("#"))
    return (
        f"# Elastic Beanstalk installs this with pip {how}: the app's locked closure, every\n"
        "# package pinned with its sha256 hashes (generated by app/bundle.py from the lock).\n"
        + "".join(f"{option}\n" for option in options)
        + body
    )


def dependency_members(lock_file: Path, *, self_contained: bool) -> list[tuple[str, Path | bytes]]:
    """requirements.txt generated from the lock, plus the wheelhouse when self-contained."""
    text = lock_file.read_text(encoding="utf-8")
    try:
        pins = parse_lock_text(text)
    except LockError as exc:
        raise BundleError(f"{lock_file}: {exc}") from None
    members: list[tuple[str, Path | bytes]] = [
        (REQUIREMENTS_FILE, bundle_requirements(text, self_contained=self_contained).encode())
    ]
    if self_contained:
        try:
            house = ensure_wheelhouse(lock_file, pins)
        except WheelhouseError as exc:
            raise BundleError(f"{exc} (a self-contained bundle ships every wheel)") from None
        members += [(f"{WHEELHOUSE_DIR}/{wheel.name}", wheel) for wheel in house.files]
    return members


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _excluded(rel: Path) -> bool:
    return any(fnmatch.fnmatch(part, pat) for part in rel.parts for pat in EXCLUDED_PATTERNS)


def bundle_members(source_dir: Path, model: str) -> list[tuple[str, Path]]:
    """(archive name, file) pairs in archive order; raises BundleError when something is missing."""
    members: list[tuple[str, Path]] = []
    for name in TOP_LEVEL_FILES:
        path = source_dir / name
        if not path.is_file():
            raise BundleError(f"{path} is missing; the bundle needs it")
        members.append((name, path))
    for tree in TREES:
        root = source_dir / tree
        if not root.is_dir():
            if tree == "passport_app":
                raise BundleError(f"{root} is missing; the bundle needs the app package")
            continue
        for path in root.rglob("*"):
            rel = path.relative_to(source_dir)
            if path.is_file() and not _excluded(rel):
                members.append((rel.as_posix(), path))
    try:
        model_file = check(model, source_dir / "models")
    except ModelError as exc:
        raise BundleError(
            f"{exc} (the bundle ships the model so instances never download it)"
        ) from None
    members.append((f"models/{model}.onnx", model_file))
    for name in APP_TFLITE:  # face landmarks + selfie segmentation (passport_app.landmarks)
        try:
            members.append((f"models/{name}", check_tflite(name, source_dir / "models")))
        except ModelError as exc:
            raise BundleError(f"{exc} (the bundle ships the face models too)") from None
    return sorted(members, key=lambda item: item[0])


def _write_version(zf: zipfile.ZipFile, label: str) -> None:
    info = zipfile.ZipInfo(VERSION_FILE, date_time=FIXED_TIME)
    info.external_attr = FILE_MODE << 16
    info.create_system = 3
    info.compress_type = zipfile.ZIP_STORED
    zf.writestr(info, label + "\n")


def build_bundle(
    source_dir: str | os.PathLike[str] = APP_DIR,
    out_dir: str | os.PathLike[str] = DEFAULT_OUT,
    model: str = "u2netp",
    *,
    self_contained: bool = True,
) -> Bundle:
    """Write ``<out_dir>/<label>.zip`` from ``source_dir``; same inputs give the same bytes.

    ``source_dir/requirements.txt`` is the hashed lock; the bundle's own requirements.txt is
    generated from it (and the wheelhouse added) by `dependency_members`.
    """
    if model not in MODELS:
        raise BundleError(f"unknown model {model!r}; allowed: {', '.join(sorted(MODELS))}")
    source = Path(source_dir).resolve()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    members: list[tuple[str, Path | bytes]] = [
        m for m in bundle_members(source, model) if m[0] != REQUIREMENTS_FILE
    ]
    members += dependency_members(source / REQUIREMENTS_FILE, self_contained=self_contained)
    members.sort(key=lambda item: item[0])
    label = _members_label(members)
    final = out / f"{label}.zip"
    if final.is_file() and bundle_label(final) == label:
        # Same members, same bytes (the build is reproducible): a 250 MB rewrite saved.
        return Bundle(final, label, _sha256(final), model, self_contained)
    fd, tmp_name = tempfile.mkstemp(prefix=".bundle-", suffix=".zip", dir=out)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            entries: list[tuple[str, Path | bytes | None]] = [*members, (VERSION_FILE, None)]
            for arcname, path in sorted(entries, key=lambda item: item[0]):
                if path is None:
                    _write_version(zf, label)
                    continue
                info = zipfile.ZipInfo(arcname, date_time=FIXED_TIME)
                info.external_attr = FILE_MODE << 16
                info.create_system = 3  # unix, so the mode bits mean the same everywhere
                if isinstance(path, bytes):
                    info.compress_type = zipfile.ZIP_DEFLATED
                    zf.writestr(info, path, compresslevel=9)
                # Weights are dense floats and wheels are zips already (deflate saves little at
                # a large CPU cost): store them.
                elif arcname.endswith((".onnx", ".tflite", ".whl")):
                    info.compress_type = zipfile.ZIP_STORED
                    with open(path, "rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                        while chunk := src.read(1 << 20):
                            dst.write(chunk)
                else:
                    info.compress_type = zipfile.ZIP_DEFLATED
                    zf.writestr(info, path.read_bytes(), compresslevel=9)
        sha = _sha256(tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return Bundle(
        path=final, version_label=label, sha256=sha, model=model, self_contained=self_contained
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.bundle", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (build/bundles)")
    parser.add_argument("--model", default="u2netp", choices=sorted(MODELS))
    parser.add_argument("--source", default=str(APP_DIR), help="bundle root (app/)")
    parser.add_argument("--json", action="store_true", help="print a JSON object instead")
    parser.add_argument(
        "--no-wheelhouse",
        action="store_true",
        help="install the locked pins from the index instead of shipping their wheels",
    )
    args = parser.parse_args(argv)
    try:
        bundle = build_bundle(
            args.source, args.out, args.model, self_contained=not args.no_wheelhouse
        )
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(
            json.dumps(
                {
                    "path": str(bundle.path),
                    "version_label": bundle.version_label,
                    "sha256": bundle.sha256,
                    "model": bundle.model,
                    "self_contained": bundle.self_contained,
                    "bytes": bundle.path.stat().st_size,
                }
            )
        )
    else:
        print(f"{bundle.path}\n{bundle.version_label}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
