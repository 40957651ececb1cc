"""The sample photos (test_images/manifest.json) the ml, api and performance checks upload."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.jsonfile import CorruptJSONError, read_json

KINDS = ("portrait", "no_face", "refused")  # refused: a face, but it cannot be made to spec


class ManifestError(Exception):
    """test_images/ is missing or its manifest cannot be used; names file and entry."""


@dataclass(frozen=True)
class SampleImage:
    file: str
    path: Path
    kind: str  # portrait | no_face | refused
    formats: tuple[str, ...]
    expected_status: int
    expected_code: str | None
    head_covering: str | None = None  # a declared religious/medical covering (portraits)
    refusals: tuple[tuple[str, str], ...] = ()  # (format, 422 code) where a rule is broken

    @property
    def stem(self) -> str:
        return Path(self.file).stem

    def read(self) -> bytes:
        return self.path.read_bytes()


def _entries(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in ("images", "photos", "entries"):
            if isinstance(data.get(key), list):
                return data[key]
    raise ManifestError("manifest.json must be a list of entries or an object with 'images'")


def load_manifest(images_dir: Path) -> list[SampleImage]:
    manifest = Path(images_dir) / "manifest.json"
    try:
        data = read_json(manifest, default=None)
    except CorruptJSONError as exc:
        raise ManifestError(f"{manifest} is not valid JSON: {exc.cause}") from exc
    if data is None:
        raise ManifestError(f"{manifest} not found (sample photos live in test_images/)")
    samples: list[SampleImage] = []
    for index, entry in enumerate(_entries(data)):
        if not isinstance(entry, dict):
            raise ManifestError(f"{manifest} entry {index} must be an object, got {entry!r}")
        file = entry.get("file")
        kind = entry.get("kind")
        if not isinstance(file, str) or kind not in KINDS:
            raise ManifestError(
                f"{manifest} entry {index}: needs 'file' and 'kind' in {KINDS}, got {entry!r}"
            )
        path = Path(images_dir) / file
        if not path.is_file():
            raise ManifestError(f"{manifest} entry {index}: {path} does not exist")
        status = entry.get("expected_status", 200 if kind == "portrait" else 422)
        code = entry.get("expected_code") or ("no_face" if kind == "no_face" else None)
        if not isinstance(status, int) or isinstance(status, bool):
            raise ManifestError(
                f"{manifest} entry {index}: expected_status must be an integer, got {status!r}"
            )
        formats = entry.get("formats") or ("us", "eu")
        if isinstance(formats, str):
            formats = (formats,)
        refusals = entry.get("refusals") or {}
        covering = entry.get("head_covering")
        if not isinstance(refusals, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in refusals.items()
        ):
            raise ManifestError(
                f"{manifest} entry {index}: refusals must map format -> error code, "
                f"got {refusals!r}"
            )
        if covering is not None and not isinstance(covering, str):
            raise ManifestError(
                f"{manifest} entry {index}: head_covering must be a string, got {covering!r}"
            )
        samples.append(
            SampleImage(
                file,
                path,
                kind,
                tuple(formats),
                status,
                code,
                head_covering=covering,
                refusals=tuple(sorted(refusals.items())),
            )
        )
    if not any(s.kind == "portrait" for s in samples):
        raise ManifestError(f"{manifest} lists no portrait; the photo checks need at least one")
    return samples


def first(samples: list[SampleImage], kind: str) -> SampleImage | None:
    return next((s for s in samples if s.kind == kind), None)
