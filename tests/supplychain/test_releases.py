"""Releases: semantic versions and a changelog from Conventional Commit titles (commitizen, as
configured in pyproject.toml), exercised in a throwaway repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from common.paths import ROOT

CZ = str(Path(sys.executable).with_name("cz"))
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("title", "ok"),
    [
        ("feat(canary): judge the traffic split", True),
        ("fix: verify stops at a TLS name mismatch", True),
        ("feat!: prod needs a certificate", True),
        ("build(deps): bump boto3", True),
        ("Update stuff", False),
        ("feature: not a known type", False),
        ("fix:missing space", False),
    ],
)
def test_pull_request_titles_are_checked(title: str, ok: bool) -> None:
    assert (run([CZ, "check", "-m", title], ROOT).returncode == 0) is ok


def commit(repo: Path, message: str) -> None:
    (repo / "log.txt").write_text((repo / "log.txt").read_text() + message + "\n")
    assert run(["git", "commit", "-qam", message], repo).returncode == 0


def bump(repo: Path) -> str:
    result = run([CZ, "bump", "--yes"], repo)
    assert result.returncode == 0, result.stdout + result.stderr
    return run(["git", "describe", "--tags", "--abbrev=0"], repo).stdout.strip()


def test_versions_follow_the_titles_and_the_changelog_lists_them(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (repo / "log.txt").write_text("")
    assert run(["git", "init", "-q", "-b", "main"], repo).returncode == 0
    assert run(["git", "add", "."], repo).returncode == 0
    commit(repo, "chore: start")
    assert run(["git", "tag", "v0.1.0"], repo).returncode == 0

    commit(repo, "feat(bundle): ship a wheelhouse")
    commit(repo, "fix: digest check names both digests")
    assert bump(repo) == "v0.2.0"  # a feature: minor (0.x: breaking changes are minor too)
    commit(repo, "fix(verify): stop at a TLS mismatch")
    assert bump(repo) == "v0.2.1"  # only fixes: patch
    commit(repo, "docs: explain promote")
    commit(repo, "feat!: prod needs a certificate")
    assert bump(repo) == "v0.3.0"

    changelog = (repo / "CHANGELOG.md").read_text()
    assert "## v0.3.0" in changelog and "## v0.2.1" in changelog and "## v0.2.0" in changelog
    assert "ship a wheelhouse" in changelog and "stop at a TLS mismatch" in changelog
    assert 'version = "0.3.0"' in (repo / "pyproject.toml").read_text()


def test_the_release_workflow_bumps_then_promotes_to_prod_itself() -> None:
    """A release made with the default token triggers no other workflow (GitHub's rule), so
    the release workflow must call the prod deploy itself, after the release exists."""
    workflows = ROOT / ".github" / "workflows"
    release = yaml.safe_load((workflows / "release.yml").read_text())
    deploy = yaml.safe_load((workflows / "deploy.yml").read_text())
    bump = "\n".join(s.get("run", "") for s in release["jobs"]["release"]["steps"])
    assert "cz bump --yes" in bump and "gh release create" in bump
    prod = release["jobs"]["prod"]
    assert prod["needs"] == ["release"]
    assert prod["uses"] == "./.github/workflows/deploy.yml" and prod["with"] == {"stack": "prod"}
    assert "workflow_call" in deploy[True] and "stack" in deploy[True]["workflow_call"]["inputs"]
    steps = deploy["jobs"]["deploy"]["steps"]
    assert any("promote --from staging --to prod" in s.get("run", "") for s in steps)
