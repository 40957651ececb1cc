"""The app's hashed lock: current, what the project venv runs, and a stale copy fails lint's check.

`make lint` runs `python -m app.lock check`; these run that very command on copies of the input
and the lock, tampered the ways a lock goes stale.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from app.lock import INPUT, LOCK, PROJECT_LOCK, read_lock
from common.paths import ROOT
from tests.support.cli_runner import run_module


def lint_staleness_command() -> list[str]:
    """The staleness command from the Makefile's lint recipe (`$(PY) -m app.lock check`)."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    match = re.search(r"\$\(PY\) -m (app\.lock) (check)\s*$", recipe, re.M)
    assert match, "make lint no longer checks the app lock for staleness"
    return [match.group(1), match.group(2)]


@pytest.fixture
def copies(tmp_path: Path) -> tuple[Path, Path, Path]:
    for src in (INPUT, LOCK, PROJECT_LOCK):
        shutil.copy(src, tmp_path / src.name)
    return tmp_path / INPUT.name, tmp_path / LOCK.name, tmp_path / PROJECT_LOCK.name


def check(source: Path, lock: Path, project: Path) -> tuple[int, str]:
    module, *args = lint_staleness_command()
    done = run_module(
        module, *args, "--input", str(source), "--lock", str(lock), "--project-lock", str(project)
    )
    return done.returncode, done.stdout + done.stderr


def test_the_committed_lock_is_current(copies: tuple[Path, Path, Path]) -> None:
    code, said = check(*copies)
    assert code == 0, said


def test_a_changed_input_makes_the_lock_stale(copies: tuple[Path, Path, Path]) -> None:
    source, lock, project = copies
    source.write_text(source.read_text().replace("gunicorn==27.0.1", "gunicorn==27.0.2"))
    code, said = check(source, lock, project)
    assert code == 1
    assert "requirements.in changed since the lock was made" in said
    assert "gunicorn: input wants ==27.0.2, lock has 27.0.1" in said


def test_a_new_direct_dependency_missing_from_the_lock(copies: tuple[Path, Path, Path]) -> None:
    source, lock, project = copies
    source.write_text(source.read_text() + "xmltodict==1.0.4\n")
    code, said = check(source, lock, project)
    assert code == 1 and "xmltodict is a direct dependency but is not in the lock" in said


def test_a_hand_edited_lock_is_stale(copies: tuple[Path, Path, Path]) -> None:
    """Dropping a transitive pin (or a hash) by hand: the closure no longer matches its digest."""
    source, lock, project = copies
    text = lock.read_text()
    start = text.index("\npymatting==")
    end = text.index("\n", text.index("# via", start))
    lock.write_text(text[:start] + text[end:])
    code, said = check(source, lock, project)
    assert code == 1 and "edited by hand" in said


def test_the_lock_must_agree_with_the_project_venv(copies: tuple[Path, Path, Path]) -> None:
    source, lock, project = copies
    project.write_text(project.read_text().replace("protobuf==5.29.6", "protobuf==7.36.2"))
    code, said = check(source, lock, project)
    assert code == 1
    assert "protobuf: lock has 5.29.6, the project venv (requirements.lock) has 7.36.2" in said


def test_the_lock_pins_the_whole_closure_with_hashes() -> None:
    pins = {p.key: p for p in read_lock()}
    # transitive dependencies the issue found drifting are pinned, each with hashes
    assert pins["protobuf"].version == "5.29.6"
    assert {"pymatting", "scipy", "numba", "llvmlite"} <= pins.keys()
    assert all(p.hashes for p in pins.values())
    assert pins["rembg"].extras == ("cpu",)


def test_make_setup_installs_the_app_closure_from_the_lock() -> None:
    """The project venv gets the app's closure from the same hashed lock the bundle ships."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\n$(STAMP):", 1)[1].split("\n\n", 1)[0]
    assert "--require-hashes -r app/requirements.txt" in recipe
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert "-r app/requirements.txt" not in dev  # not re-resolved from unhashed pins
