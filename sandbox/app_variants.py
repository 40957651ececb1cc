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

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "app"
SOURCE_FILES = ("application.py", "Procfile", "gunicorn.conf.py", "requirements.txt")
SOURCE_TREES = ("passport_app", ".platform")


def copy_app_source(dest: Path, model: str = "u2netp") -> Path:
    """What the bundle builder reads from app/ (sources + the model files), copied to `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in SOURCE_FILES:
        shutil.copy2(APP_DIR / item, dest / item)
    for tree in SOURCE_TREES:
        if (APP_DIR / tree).exists():
            shutil.copytree(
                APP_DIR / tree, dest / tree, ignore=shutil.ignore_patterns("__pycache__")
            )
    (dest / "models").mkdir(exist_ok=True)
    shutil.copy2(APP_DIR / "models" / f"{model}.onnx", dest / "models" / f"{model}.onnx")
    from app.models import APP_TFLITE  # the face models the bundle ships beside the weights

    for name in APP_TFLITE:
        shutil.copy2(APP_DIR / "models" / name, dest / "models" / name)
    return dest


def build_variant(workdir: Path, edit: Callable[[Path], None], model: str = "u2netp") -> Path:
    """Copy app/ under `workdir`, apply `edit(source_dir)`, build; returns the bundle zip."""
    from app.bundle import build_bundle

    source = copy_app_source(workdir / "source", model)
    edit(source)
    return build_bundle(source_dir=source, out_dir=workdir / "bundle", model=model).path


def new_version(source: Path) -> None:
    """A harmless code change: a different bundle, so a new version label."""
    init = source / "passport_app" / "__init__.py"
    init.write_text(init.read_text() + "\n# a change that makes a new version\n")


def cannot_start(source: Path) -> None:
    """An entry point that raises on import: gunicorn's workers never boot."""
    (source / "application.py").write_text('raise RuntimeError("this version cannot start")\n')
