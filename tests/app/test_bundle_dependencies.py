"""What the bundle installs: exactly the lock, offline from its own wheelhouse, under EB's limit.

pip itself judges the bundle's requirements.txt (a `--dry-run --report` from the unpacked
bundle, in a process that sees no index), and the sandbox's install check names a package whose
wheel is missing or does not match its hash.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from app.bundle import SELF_CONTAINED_OPTIONS, build_bundle
from app.lock import read_lock
from app.sbom import bundle_sbom
from sandbox.bundle_venv import BundleInstallError, check_wheelhouse, install_bundle

#: Elastic Beanstalk's limit on a source bundle.
EB_SOURCE_BUNDLE_LIMIT = 500 * 1024 * 1024


@pytest.fixture(scope="module")
def self_contained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The real self-contained bundle of app/ and its unpacked requirements + wheelhouse."""
    bundle = build_bundle(out_dir=tmp_path_factory.mktemp("bundle")).path
    release = tmp_path_factory.mktemp("release")
    with zipfile.ZipFile(bundle) as zf:
        for name in zf.namelist():
            if name == "requirements.txt" or name.startswith("wheelhouse/"):
                zf.extract(name, release)
    return bundle, release


def test_the_bundle_requirements_resolve_to_exactly_the_lock(
    self_contained: tuple[Path, Path], tmp_path: Path
) -> None:
    """`pip install --dry-run --report` of the bundle's own file, with no index reachable."""
    _, release = self_contained
    report = tmp_path / "report.json"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PIP_CONFIG_FILE": "/dev/null"}
    done = subprocess.run(  # noqa: S603 - pip on our own bundle
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(report),
            "-r",
            str(release / "requirements.txt"),
        ],  # fmt: skip
        cwd=tmp_path,  # the wheelhouse is found relative to the requirements file, as on EB
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    installed = {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    pins = {p.key: p for p in read_lock()}
    assert installed == {key: pin.version for key, pin in pins.items()}
    for item in json.loads(report.read_text())["install"]:
        assert item["download_info"]["url"].startswith("file://"), item["download_info"]["url"]
        digest = item["download_info"]["archive_info"]["hashes"]["sha256"]
        assert digest in pins[canonicalize_name(item["metadata"]["name"])].hashes


def test_the_bundle_says_no_index_and_carries_every_wheel(
    self_contained: tuple[Path, Path],
) -> None:
    bundle, release = self_contained
    lines = (release / "requirements.txt").read_text().splitlines()
    options = [line for line in lines if line.startswith("--")]
    assert options[: len(SELF_CONTAINED_OPTIONS)] == list(SELF_CONTAINED_OPTIONS)
    check_wheelhouse(release, read_lock())  # one wheel per pin, each with a locked hash
    assert len(list((release / "wheelhouse").glob("*.whl"))) == len(read_lock())
    assert bundle.stat().st_size < EB_SOURCE_BUNDLE_LIMIT


def test_the_sbom_lists_the_shipped_wheels(self_contained: tuple[Path, Path]) -> None:
    bundle, release = self_contained
    sbom = bundle_sbom(bundle)
    assert sbom["bomFormat"] == "CycloneDX" and sbom["specVersion"] == "1.5"
    versions = {c["name"]: c["version"] for c in sbom["components"]}
    assert versions == {p.key: p.version for p in read_lock()}
    numpy = next(c for c in sbom["components"] if c["name"] == "numpy")
    (wheel,) = (release / "wheelhouse").glob("numpy-*.whl")
    assert [h["content"] for h in numpy["hashes"]] == [
        hashlib.sha256(wheel.read_bytes()).hexdigest()
    ]
    assert bundle_sbom(bundle) == sbom  # no timestamp: the same bundle, the same SBOM


def test_a_wheel_that_does_not_match_its_hash_is_named(
    self_contained: tuple[Path, Path], tmp_path: Path
) -> None:
    _, release = self_contained
    fake = tmp_path / "release"
    (fake / "wheelhouse").mkdir(parents=True)
    (fake / "requirements.txt").write_text((release / "requirements.txt").read_text())
    for wheel in (release / "wheelhouse").glob("*.whl"):
        (fake / "wheelhouse" / wheel.name).symlink_to(wheel)
    (six,) = (fake / "wheelhouse").glob("six-*.whl")
    six.unlink()
    six.write_bytes(b"not the wheel the lock names")
    with pytest.raises(BundleInstallError, match=r"six==1\.17\.0: six-.*does not match"):
        install_bundle(fake)
    six.unlink()
    with pytest.raises(BundleInstallError, match=r"six==1\.17\.0: no wheel in wheelhouse/"):
        install_bundle(fake)
