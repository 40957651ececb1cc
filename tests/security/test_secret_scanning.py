"""detect-secrets, as `make lint` runs it: a planted key is caught, the committed tree is clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from common.paths import ROOT

HOOK = Path(sys.executable).with_name("detect-secrets-hook")

# Built at run time so this file itself holds no key-shaped string for the scanner to find.
FAKE_KEY_ID = "AKIA" + "IOSFODNN7" + "EXAMPLE"
FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"  # pragma: allowlist secret


def _hook(*files: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our venv's tool, our files
        # relative, as `make lint` passes it: detect-secrets recognises (and skips) its baseline
        # file only by that exact path
        [str(HOOK), "--baseline", ".secrets.baseline", *map(str, files)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_planted_aws_key_in_a_fixture_is_caught(tmp_path: Path) -> None:
    fixture = tmp_path / "settings_fixture.py"
    fixture.write_text(
        f'AWS_ACCESS_KEY_ID = "{FAKE_KEY_ID}"\nAWS_SECRET_ACCESS_KEY = "{FAKE_SECRET}"\n'
    )
    shutil.copy(ROOT / ".secrets.baseline", tmp_path / ".secrets.baseline")  # our allowlist
    for git in (["git", "init", "-q"], ["git", "add", ".secrets.baseline"]):  # the hook asks git
        subprocess.run(git, cwd=tmp_path, check=True)  # noqa: S603, S607 - fixed git commands
    result = _hook(fixture, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "AWS Access Key" in result.stdout
    assert "settings_fixture.py" in result.stdout


def test_the_committed_tree_has_no_unaudited_secrets() -> None:
    tracked = subprocess.run(  # noqa: S603, S607 - fixed git command
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    result = _hook(*(Path(f) for f in tracked if (ROOT / f).is_file()))
    assert result.returncode == 0, result.stdout + result.stderr
