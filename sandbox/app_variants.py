"""Bundles built from an edited copy of app/: "a new version" and "a version that cannot start".

The sandbox tests and benchmark need real bundles that differ from app/ (a blue/green
replacement needs a new label; the failure path needs an app that never gets healthy). Both
go through the app's own reproducible builder, so they are exactly what a developer's change
would produce.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from app.bundle import build_bundle, bundle_members
from common.paths import APP_DIR


def copy_app_source(dest: Path, model: str = "u2netp") -> Path:
    """What the bundle builder reads from app/ (its member list: sources + models), to `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for arcname, path in bundle_members(APP_DIR, model):
        target = dest / arcname
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return dest


def build_variant(
    workdir: Path,
    edit: Callable[[Path], None],
    model: str = "u2netp",
    *,
    self_contained: bool = False,
) -> Path:
    """Copy app/ under `workdir`, apply `edit(source_dir)`, build; returns the bundle zip.

    An index bundle by default (the hashed lock without its 270 MB of wheels): the sandbox
    installs both kinds from the same wheels, and tests build many variants.
    """
    source = copy_app_source(workdir / "source", model)
    edit(source)
    return build_bundle(
        source_dir=source, out_dir=workdir / "bundle", model=model, self_contained=self_contained
    ).path


def without_dependency(package: str) -> Callable[[Path], None]:
    """An edit that drops one locked package (and its hashes) from the bundle's lock."""

    def edit(source: Path) -> None:
        lock = source / "requirements.txt"
        kept, skipping = [], False
        for line in lock.read_text().splitlines(keepends=True):
            if line and not line[0].isspace():
                skipping = line.lower().startswith(f"{package.lower()}==")
            if not skipping:
                kept.append(line)
        lock.write_text("".join(kept))

    return edit


def new_version(source: Path) -> None:
    """A harmless code change: a different bundle, so a new version label."""
    init = source / "passport_app" / "__init__.py"
    init.write_text(init.read_text() + "\n# a change that makes a new version\n")


def cannot_start(source: Path) -> None:
    """An entry point that raises on import: gunicorn's workers never boot."""
    (source / "application.py").write_text('raise RuntimeError("this version cannot start")\n')
