"""The checks, in report order. Each module defines CHECK; add new ones here."""

from __future__ import annotations

from verify.context import Check


def all_checks() -> list[Check]:
    """Every check, in report order."""
    # The checks load cv2 and numpy; a command that imports verify but runs no check (the
    # automation's, for verify.aws) skips them. lazy import: 0.14 s at start-up
    from verify.checks import (
        api,
        cors,
        dynamodb,
        email,
        health,
        load,
        ml,
        monitoring,
        performance,
        readiness,
        s3,
        ses,
    )

    modules = (
        readiness,
        health,
        api,
        cors,
        dynamodb,
        s3,
        ses,
        ml,
        email,
        performance,
        load,
        monitoring,
    )
    return [m.CHECK for m in modules]


def names() -> list[str]:
    return [c.name for c in all_checks()]
