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


def photo_endpoint_fails(source: Path) -> None:
    """A regression that boots and passes /health but breaks every photo request: it deploys,
    then fails verification (the rollback path)."""
    module = source / "passport_app" / "pipeline.py"
    module.write_text(
        module.read_text()
        + "\n\ndef make_passport_photo(data, fmt, remover):  # the regression\n"
        + "    raise RuntimeError('regression: photo pipeline broken')\n"
    )


def _append_to_entry(source: Path, code: str) -> None:
    """Append a hook to the WSGI entry module (application.py), after the app is created."""
    entry = source / "application.py"
    entry.write_text(entry.read_text() + "\n" + code.strip() + "\n")


def email_errors(every: int) -> Callable[[Path], None]:
    """A version whose email endpoint answers 500 to one request in `every` (per worker).

    What a regression under concurrency looks like from outside: most requests fine, a few
    percent failing. Deterministic (a counter, not a coin), so the share is what it says.
    """

    def edit(source: Path) -> None:
        _append_to_entry(
            source,
            f"""
import itertools as _itertools

from flask import jsonify as _jsonify
from flask import request as _request

_email_calls = _itertools.count(1)


@application.before_request
def _fail_some_email_requests():
    if _request.path == "/api/v1/email/validate" and next(_email_calls) % {every} == 0:
        return _jsonify(error={{"code": "internal", "message": "injected fault"}}), 500
    return None
""",
        )

    return edit


def slower(milliseconds: int) -> Callable[[Path], None]:
    """A version whose every response takes `milliseconds` longer (verify's budgets allow it)."""

    def edit(source: Path) -> None:
        _append_to_entry(
            source,
            f"""
import time as _time


@application.before_request
def _slower():
    _time.sleep({milliseconds / 1000!r})
""",
        )

    return edit


def email_errors_after(switch: Path) -> Callable[[Path], None]:
    """A version that behaves until `switch` exists, then fails every email request (500).

    A fault that appears after promotion (a dependency that degrades later, a leak that takes
    minutes): the canary passes it, the bake's alarms must catch it.
    """

    def edit(source: Path) -> None:
        _append_to_entry(
            source,
            f"""
import os as _os

from flask import jsonify as _jsonify
from flask import request as _request


@application.before_request
def _fail_email_after_switch():
    if _request.path == "/api/v1/email/validate" and _os.path.exists({str(switch)!r}):
        return _jsonify(error={{"code": "internal", "message": "injected fault"}}), 500
    return None
""",
        )

    return edit
