"""Issue 10 item 5: EB's delete rules for application versions, at the handler level.

EB refuses DeleteApplicationVersion while an environment runs the label; Pulumi deletes a
replaced version after creating the new one, and a refused delete stays pending and is tried
again at the next update. Our program sets ``retain_on_delete`` on versions, so Pulumi never
calls the delete (EB's lifecycle retires them); these tests pin both paths without processes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandbox.environment import EnvironmentRunner
from sandbox.errors import SandboxError
from sandbox.realise.context import RealiseContext
from sandbox.realise.deletes import realise_deletes
from sandbox.realise.elasticbeanstalk import VERSION_TYPE
from sandbox.state import SandboxState, StackPaths

APP = "passport-dev"
ENV = "passport-dev-env"
KEY = f"{VERSION_TYPE}::app-version"


def _runner(tmp_path: Path, running: str, labels: tuple[str, ...]) -> EnvironmentRunner:
    state = SandboxState(StackPaths(tmp_path, "dev"))
    state.paths.dir.mkdir(parents=True)
    with state.update() as data:
        data["eb"]["versions"][APP] = {
            label: {"created": f"2026-01-0{i + 1}", "bucket": "b", "key": f"{label}.zip"}
            for i, label in enumerate(labels)
        }
        data["app"] = {"version": running, "environment": ENV, "application": APP}
    return EnvironmentRunner(state, None, s3_client=lambda: None, free_port=int, proxy_port=1)  # type: ignore[arg-type]


def _ctx(runner: EnvironmentRunner) -> RealiseContext:
    return RealiseContext("dev", "p", "us-east-1", "http://unused", {}, services=runner)


def _version(label: str, *, retain: bool = False) -> dict[str, Any]:
    return {
        "type": VERSION_TYPE,
        "name": "app-version",
        "id": label,
        "state": {"application": APP, "name": label},
        "retain_on_delete": retain,
    }


def _labels(runner: EnvironmentRunner) -> set[str]:
    return set(runner.state.get("eb", "versions", APP))


def test_a_version_in_use_cannot_be_deleted(tmp_path: Path) -> None:
    runner = _runner(tmp_path, running="v2", labels=("v1", "v2"))
    with pytest.raises(SandboxError, match="Unable to delete application version v2 because it"):
        runner.delete_version(APP, "v2")
    assert _labels(runner) == {"v1", "v2"}
    runner.delete_version(APP, "v1")  # not running: EB deletes it (the bundle stays in S3)
    assert _labels(runner) == {"v2"}


def test_a_refused_delete_stays_pending_and_is_retried_at_the_next_update(
    tmp_path: Path,
) -> None:
    # The version resource was replaced (v1 -> v2) but the environment still runs v1, as after
    # an environment update that failed: the provider's delete of v1 is refused.
    runner = _runner(tmp_path, running="v1", labels=("v1", "v2"))
    ctx = _ctx(runner)
    first = realise_deletes(ctx, {KEY: _version("v1")}, {KEY: _version("v2")}, pending=[])
    assert [p["id"] for p in first.pending] == ["v1"]
    assert "being used by an environment" in first.errors[0] and not first.deleted
    # Next update, still running v1: tried again and refused again.
    again = realise_deletes(ctx, {KEY: _version("v2")}, {KEY: _version("v2")}, first.pending)
    assert [p["id"] for p in again.pending] == ["v1"] and again.errors
    # Once the environment runs v2, the pending delete goes through.
    with runner.state.update() as data:
        data["app"]["version"] = "v2"
    done = realise_deletes(ctx, {KEY: _version("v2")}, {KEY: _version("v2")}, again.pending)
    assert (done.pending, done.errors) == ([], [])
    assert _labels(runner) == {"v2"}


def test_retain_on_delete_versions_are_never_deleted_through_eb(tmp_path: Path) -> None:
    """Our program's choice: a replaced or dropped version stays in EB (rollback targets)."""
    runner = _runner(tmp_path, running="v2", labels=("v1", "v2"))
    ctx = _ctx(runner)
    replaced = realise_deletes(
        ctx, {KEY: _version("v1", retain=True)}, {KEY: _version("v2")}, pending=[]
    )
    dropped = realise_deletes(ctx, {KEY: _version("v2", retain=True)}, {}, pending=[])
    for result in (replaced, dropped):
        assert (result.deleted, result.pending, result.errors) == ([], [], [])
        assert len(result.retained) == 1
    assert _labels(runner) == {"v1", "v2"}
