"""The workflows are hardened, and zizmor (run by `make lint`) fails when one is not."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from common.paths import ROOT

GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ZIZMOR = Path(sys.executable).with_name("zizmor")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def zizmor(path: Path) -> subprocess.CompletedProcess:
    """As `make lint` runs it: offline, failing on medium and high findings."""
    return subprocess.run(
        [str(ZIZMOR), "--offline", "--min-severity", "medium", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))
    return data


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in workflow["jobs"].values() for s in job.get("steps", [])]


def test_zizmor_finds_nothing_at_medium_or_above_in_our_workflows() -> None:
    result = zizmor(GITHUB)
    assert result.returncode == 0, result.stdout + result.stderr


def copy_of_github(tmp_path: Path) -> Path:
    copy = tmp_path / ".github"
    shutil.copytree(GITHUB, copy)
    return copy


def test_an_unpinned_uses_fails_zizmor(tmp_path: Path) -> None:
    copy = copy_of_github(tmp_path)
    ci = copy / "workflows" / "ci.yml"
    text = ci.read_text()
    pinned = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"
    assert pinned in text
    ci.write_text(text.replace(pinned, "actions/checkout@v7", 1))
    result = zizmor(copy)
    assert result.returncode != 0
    assert "unpinned-uses" in result.stdout + result.stderr


def test_a_checkout_that_keeps_its_credentials_fails_zizmor(tmp_path: Path) -> None:
    """The default (no `persist-credentials: false`) leaves the token in .git/config."""
    copy = copy_of_github(tmp_path)
    ci = copy / "workflows" / "ci.yml"
    text = ci.read_text()
    kept = "# v7.0.1\n        with:\n          persist-credentials: false\n"
    assert kept in text
    ci.write_text(text.replace(kept, "# v7.0.1\n", 1))
    result = zizmor(copy)
    assert result.returncode != 0
    assert "artipacked" in result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version_beside_it(path: Path) -> None:
    lines = [line for line in path.read_text().splitlines() if re.match(r"\s*(- )?uses:", line)]
    assert lines
    for line in lines:
        ref, _, comment = line.split("uses:", 1)[1].strip().partition("#")
        if ref.strip().startswith("./"):
            continue  # our own reusable workflow, same commit
        assert PINNED.match(ref.strip()), line
        assert re.match(r"\s*v\d+\.\d+\.\d+", comment), f"no version comment: {line}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_and_no_persisted_token(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {}, "permissions belong to the jobs that need them"
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{path.name}:{name} states no permissions"
    for step in steps(workflow):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, step


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_secrets_only_in_jobs_bound_to_an_environment(path: Path) -> None:
    workflow = load(path)
    for name, job in workflow["jobs"].items():
        if "secrets." not in yaml.safe_dump(job):
            continue
        if job.get("uses", "").startswith("./.github/workflows/"):
            # a call of our own reusable workflow: the secrets land in its jobs, which must
            # each be bound to an environment
            called = load(ROOT / job["uses"])
            for inner, inner_job in called["jobs"].items():
                assert inner_job.get("environment"), f"{job['uses']}:{inner} has no environment"
            continue
        assert job.get("environment"), f"{path.name}:{name} uses secrets outside an environment"
