"""What the engines hand the program to deploy: the source bundle (a fresh build of app/, or a
prebuilt zip) and the EB platform the live environment runs.

The components never build anything themselves; they take a path and a label, so tests and the
rollback path can hand them any zip.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.bundle import build_bundle, bundle_label
from common.contracts import BUNDLE_ENV, LIVE_PLATFORM_ENV, VERSION_EXISTS_ENV
from common.platforms import platform_to_declare


class BundleSourceError(RuntimeError):
    """The prebuilt bundle named in PASSPORT_APP_BUNDLE cannot be used."""


@dataclass(frozen=True)
class BundleRef:
    path: str
    version_label: str
    registered: bool = False
    """EB already has this label: reference it, do not create the version again."""


def resolve_bundle(
    model: str, env: Mapping[str, str] | None = None, *, self_contained: bool = True
) -> BundleRef:
    """The prebuilt zip from PASSPORT_APP_BUNDLE (label recomputed from its bytes), else a build.

    Recomputing the label instead of trusting a caller-supplied one means a rollback to an old
    zip deploys exactly the version label it had the first time.

    The engines set the two variables (common.contracts: the engine ↔ program hand-over).
    """
    env = os.environ if env is None else env
    prebuilt = env.get(BUNDLE_ENV)
    if prebuilt:
        path = Path(prebuilt).expanduser().resolve()
        if not path.is_file():
            raise BundleSourceError(f"{BUNDLE_ENV}={prebuilt}: no such file")
        registered = env.get(VERSION_EXISTS_ENV, "").lower() == "true"
        return BundleRef(str(path), bundle_label(path), registered)
    bundle = build_bundle(model=model, self_contained=self_contained)
    return BundleRef(str(bundle.path), bundle.version_label)


def resolve_platform(pinned: str, env: Mapping[str, str] | None = None) -> str:
    """The platform to declare: the pin, or the newer one of its branch that managed updates
    moved the live environment to (LIVE_PLATFORM_ENV, set by the engine that read it)."""
    env = os.environ if env is None else env
    return platform_to_declare(pinned, env.get(LIVE_PLATFORM_ENV) or None)
