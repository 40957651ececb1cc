"""The licence gate, run as `make lint` runs it, over a throwaway closure it must refuse or pass."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

from common.paths import ROOT
from supplychain.licences import Policy, judge

POLICY = Policy.load()


def throwaway_env(tmp_path: Path, packages: dict[str, str]) -> Path:
    """A venv (no pip) whose site-packages holds one fake distribution per `name → License`."""
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    site = next(env_dir.glob("lib/python3*/site-packages"))
    for name, licence in packages.items():
        info = site / f"{name}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\nLicense: {licence}\n"
        )
    return env_dir / "bin" / "python"


def gate(tmp_path: Path, lock_lines: list[str], python: Path) -> subprocess.CompletedProcess:
    lock = tmp_path / "closure.lock"
    lock.write_text("\n".join(lock_lines) + "\n")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "supplychain.licences",
            "--lock",
            str(lock),
            "--python",
            str(python),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_gpl_package_in_the_closure_fails_the_gate_naming_it_and_its_licence(
    tmp_path: Path,
) -> None:
    python = throwaway_env(tmp_path, {"permissive": "MIT", "copyleft": "GPL-3.0-only"})
    result = gate(tmp_path, ["permissive==1.0", "copyleft==1.0 \\", "    --hash=sha256:00"], python)
    assert result.returncode == 1, result.stdout
    assert "copyleft 1.0: licence 'GPL-3.0-only'" in result.stderr
    assert "permissive" not in result.stderr
    assert "1 of 2 packages allowed" in result.stdout


def test_the_same_closure_without_it_passes(tmp_path: Path) -> None:
    python = throwaway_env(tmp_path, {"permissive": "MIT", "dual": "Apache-2.0 OR GPL-2.0-only"})
    result = gate(tmp_path, ["permissive==1.0", "dual==1.0"], python)
    assert result.returncode == 0, result.stderr
    assert "2 of 2 packages allowed" in result.stdout


def test_a_locked_package_that_is_not_installed_is_not_a_pass(tmp_path: Path) -> None:
    python = throwaway_env(tmp_path, {"permissive": "MIT"})
    result = gate(tmp_path, ["permissive==1.0", "ghost==2.0"], python)
    assert result.returncode == 1
    assert "ghost 2.0" in result.stderr and "not checked" in result.stderr


@pytest.mark.parametrize(
    ("licence", "ok"),
    [
        ("MIT", True),
        ("MIT License", True),
        ("DFSG approved; MIT License", True),
        ("Apache Software License; BSD License", True),
        ("BSD-2-Clause AND Apache-2.0 WITH LLVM-exception", True),
        ("MPL-2.0 AND MIT", True),
        ("MIT AND GPL-3.0-or-later", False),
        ("GPL-2.0-only OR LGPL-2.1-only", False),
        ("AGPL-3.0-only", False),
        ("Apache-2.0 WITH Classpath-exception-2.0", False),
        ("UNKNOWN", False),
        ("Some Vendor Licence", False),
        ("", False),
    ],
)
def test_licence_expressions(licence: str, ok: bool) -> None:
    assert judge("pkg", "1.0", licence, POLICY).ok is ok


def test_the_locked_closure_we_ship_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "supplychain.licences"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
