"""Coverage as `make test` measures it: processes the tests start count, and a drop below the
floor fails. Runs coverage.py with the project's own configuration (pyproject.toml)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from common.paths import ROOT

CONFIG = ROOT / "pyproject.toml"
FLOOR = float((ROOT / ".coverage-floor").read_text())
PARENT = """
import subprocess, sys
child = "from common.polling import Deadline; Deadline(5).remaining()"
subprocess.run([sys.executable, "-c", child], check=True)
"""


def coverage(args: list[str], cwd: Path, rcfile: Path = CONFIG) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("COVERAGE_PROCESS_CONFIG", None)  # this suite may itself run under coverage
    env.pop("COVERAGE_PROCESS_START", None)
    return subprocess.run(
        [sys.executable, "-m", "coverage", args[0], f"--rcfile={rcfile}", *args[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def measured_files(tmp_path: Path, rcfile: Path = CONFIG) -> dict[str, dict]:
    (tmp_path / "build" / "coverage").mkdir(parents=True, exist_ok=True)
    (tmp_path / "parent.py").write_text(PARENT)
    assert coverage(["run", "parent.py"], tmp_path, rcfile).returncode == 0
    assert coverage(["combine"], tmp_path, rcfile).returncode == 0
    result = coverage(["json", "-o", "cov.json"], tmp_path, rcfile)
    if "No data to report" in result.stdout:
        return {}
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((tmp_path / "cov.json").read_text())["files"]


def test_code_that_runs_only_in_a_child_process_is_measured(tmp_path: Path) -> None:
    files = measured_files(tmp_path)
    polling = [f for f in files if f.endswith("common/polling.py")]
    assert polling and files[polling[0]]["summary"]["covered_lines"] > 0


def test_without_the_subprocess_patch_the_child_would_be_missed(tmp_path: Path) -> None:
    """The fault the configuration guards: coverage of the gunicorn/sandbox/CLI processes."""
    rc = tmp_path / "nopatch.toml"
    rc.write_text(CONFIG.read_text().replace('patch = ["subprocess", "_exit"]', "patch = []"))
    files = measured_files(tmp_path, rc)
    assert not [f for f in files if f.endswith("common/polling.py")]


def test_a_total_below_the_floor_fails(tmp_path: Path) -> None:
    """pytest as `make test` runs it, over one small test file: far below the floor, so it fails
    (the data goes to tmp_path, never into the running suite's own)."""
    env = {**os.environ, "COVERAGE_FILE": str(tmp_path / ".coverage")}
    env.pop("COVERAGE_PROCESS_CONFIG", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "--cov",
            f"--cov-fail-under={FLOOR}",
            "tests/supplychain/test_dependabot.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert f"is less than fail-under={FLOOR:g}" in result.stdout, result.stdout[-2000:]


def test_make_test_checks_the_floor_from_the_floor_file() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "COV_FAIL_UNDER ?= $(shell cat .coverage-floor)" in makefile
    assert "--cov-fail-under=$(COV_FAIL_UNDER)" in makefile
    ci = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert "make test COVERAGE=1" in ci and '--fail-under="$(cat .coverage-floor)"' in ci
    assert 50 <= FLOOR <= 100
