"""The check stage installs the bundle as EB does: a bundle missing a dependency fails it, named.

The bundle's requirements.txt is installed into a clean venv, offline (sandbox/bundle_venv.py);
the project venv, which has every package, cannot hide the gap.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from automation import preflight
from automation.runconfig import RunConfig
from automation.wiring import build_bundle_for, preflight_checks
from sandbox.app_variants import build_variant, without_dependency
from sandbox.engine import SandboxEngine
from sandbox.errors import SandboxError


@pytest.fixture(scope="module")
def lacks_pymatting(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """rembg[cpu] needs pymatting; this bundle's lock leaves it out (hashes and all)."""
    return build_variant(tmp_path_factory.mktemp("no-pymatting"), without_dependency("pymatting"))


def test_a_bundle_missing_a_dependency_fails_the_check_stage_naming_it(
    lacks_pymatting: Path, tmp_path: Path
) -> None:
    checks = preflight_checks(
        RunConfig("dev"), state_root=tmp_path, bundle_builder=lambda: lacks_pymatting
    )
    findings = {f.name: f for f in checks()}
    installs = findings["bundle_installs"]
    assert not installs.ok
    assert "pymatting" in installs.message and "does not install" in installs.message
    # the static checks failed, so no sandbox was deployed for the local boot
    assert "local_app" not in findings
    assert not any((tmp_path / ".check").glob("*/dev"))


def test_the_app_bundle_installs() -> None:
    """The same finding passes for app/ as it is (its venv is the cached one of the lock)."""
    finding = preflight.check_bundle_installs(build_bundle_for(RunConfig("dev")))
    assert finding.ok, finding.message


@pytest.mark.slow
def test_sandbox_up_installs_the_bundle_and_refuses_one_missing_a_dependency(
    lacks_pymatting: Path, state_root: Path
) -> None:
    """`sandbox up` installs the bundle as EB does: the project venv cannot hide a gap."""
    engine = SandboxEngine("dev", state_root=state_root)
    with pytest.raises(SandboxError, match=r"does not install.*pymatting"):
        engine.up(lacks_pymatting)
