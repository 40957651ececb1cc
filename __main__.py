"""Pulumi program: validated stack config -> source bundle -> PassportPhotoBackend -> outputs."""

import sys
from pathlib import Path

import pulumi

ROOT = str(Path(__file__).resolve().parent)
if ROOT not in sys.path:  # runpy.run_path (the sandbox) does not add the program directory
    sys.path.insert(0, ROOT)

from components.backend import BackendArgs, PassportPhotoBackend  # noqa: E402
from components.bundle_source import resolve_bundle, resolve_platform  # noqa: E402
from components.config import load_stack_config  # noqa: E402
from components.naming import resource_prefix  # noqa: E402

config = load_stack_config()  # raises StackConfigError before any resource exists
bundle = resolve_bundle(
    config.background_removal_model, self_contained=config.self_contained_bundle
)
backend = PassportPhotoBackend(
    resource_prefix(config.stack),
    BackendArgs(
        config,
        bundle.path,
        bundle.version_label,
        # the pin, or the newer platform of its branch managed updates moved the live one to
        solution_stack_name=resolve_platform(config.solution_stack),
        version_registered=bundle.registered,
    ),
)
for key, value in backend.stack_outputs().items():
    pulumi.export(key, value)
