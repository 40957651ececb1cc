"""`automation destroy` protects a stack by its `environment` key, never by its name.

A copy of Pulumi.prod.yaml saved as Pulumi.live.yaml is a production stack (`environment:
prod`, `deletionProtection: true`): destroying it needs `--confirm live`, and even then the
sandbox refuses to delete the tables and buckets the program marks `protect`, as the real
`pulumi destroy` does. Run in a copy of the project, so no Pulumi.live.yaml ever lands in the
repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from commandline.exitcodes import ExitCode
from common.paths import ROOT

TABLE = "aws:dynamodb/table:Table"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree (no tests, no photos), plus Pulumi.live.yaml = Pulumi.prod.yaml."""
    dest = tmp_path_factory.mktemp("project")
    listed = subprocess.run(  # noqa: S603 - git, our own repository
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if name.startswith(("tests/", "test_images/", "docs/", "benchmarks/")):
            continue
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    shutil.copy2(dest / "Pulumi.prod.yaml", dest / "Pulumi.live.yaml")
    return dest


def destroy(project: Path, state_root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PULUMI_"))}
    return subprocess.run(  # noqa: S603 - our own CLI, in the project copy
        [
            sys.executable,
            "-m",
            "automation",
            "destroy",
            "--stack",
            "live",
            "--engine",
            "sandbox",
            "--state-root",
            str(state_root),
            *args,
        ],
        cwd=project,
        env={**env, "CI": "true"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def deployed_state(state_root: Path) -> Path:
    """What a sandbox `up` of the stack leaves: its graph holds the protected emails table.

    No process runs (nothing to stop): the refusal must come before anything is touched.
    """
    folder = state_root / "live"
    folder.mkdir(parents=True)
    resources = {
        f"{TABLE}::emails": {
            "type": TABLE,
            "name": "emails",
            "id": "pp-live-emails",
            "state": {"name": "pp-live-emails"},
            "retain_on_delete": True,
            "protect": True,
            "component": "passport:datastore:Datastore",
        }
    }
    (folder / "sandbox.json").write_text(json.dumps({"resources": resources}))
    (folder / "outputs.json").write_text(json.dumps({"email_table": "pp-live-emails"}))
    return folder


def test_a_prod_environment_under_another_name_needs_confirm(project: Path, tmp_path: Path) -> None:
    folder = deployed_state(tmp_path)
    result = destroy(project, tmp_path)
    assert result.returncode == ExitCode.USAGE, result.stdout + result.stderr
    assert "refusing to destroy live" in result.stderr and "--confirm live" in result.stderr
    assert (folder / "sandbox.json").is_file()  # nothing was touched


def test_the_sandbox_refuses_to_delete_protected_resources(project: Path, tmp_path: Path) -> None:
    folder = deployed_state(tmp_path)
    result = destroy(project, tmp_path, "--confirm", "live")
    assert result.returncode == ExitCode.FAILED, result.stdout + result.stderr
    assert "protected resources" in result.stderr and "pp-live-emails" in result.stderr
    assert "deletionProtection: false in Pulumi.live.yaml" in result.stderr
    assert (folder / "sandbox.json").is_file()  # the state (and what it names) is kept
