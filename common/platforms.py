"""Elastic Beanstalk platform names: their branch and version, and which one a deploy declares.

Managed platform updates (on: policy CKV_AWS_340) move a running environment to newer versions
of its platform branch in the weekly window; the provider then reads the new platform name into
the state. Declaring the stack's older pin after that would ask EB to go back — refused once
the old version is retired. So a deploy declares the live platform when managed updates moved it
ahead within the pinned branch, and the pin otherwise (a new environment, or a reviewed move of
the pin to a newer version or another branch). One decision, used by the program (through the
engines' hand-over, `common.contracts.LIVE_PLATFORM_ENV`) and the `check` stage.
"""

from __future__ import annotations

import re

_VERSION = re.compile(r" v(\d+)\.(\d+)\.(\d+) running ")


def platform_version(name: str) -> tuple[int, ...] | None:
    """(4, 6, 0) of '64bit Amazon Linux 2023 v4.6.0 running Python 3.11'; None if unversioned."""
    match = _VERSION.search(name)
    return tuple(int(x) for x in match.groups()) if match else None


def platform_branch(name: str) -> str:
    """The name with its version replaced: '64bit Amazon Linux 2023 v* running Python 3.11'."""
    return _VERSION.sub(" v* running ", name)


def platform_to_declare(pinned: str, live: str | None) -> str:
    """The live platform when managed updates moved it ahead of the pin in the pin's branch;
    else the pin (no environment yet, the same version, or the pin moved on deliberately)."""
    if not live or platform_branch(live) != platform_branch(pinned):
        return pinned
    live_version, pinned_version = platform_version(live), platform_version(pinned)
    if live_version is None or pinned_version is None or live_version <= pinned_version:
        return pinned
    return live
