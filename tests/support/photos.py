"""The sample photos in `test_images/` (public-domain portraits and non-faces) and image bytes.

`test_images/manifest.json` says what each file is (a portrait, no face, or a photo the app must
refuse, with the error code); tests pick their inputs by kind from it.
"""

from __future__ import annotations

import io
import json
from typing import Any

from PIL import Image

from common.paths import ROOT

TEST_IMAGES = ROOT / "test_images"
MANIFEST: dict[str, Any] = json.loads((TEST_IMAGES / "manifest.json").read_text())
PORTRAITS = [i["file"] for i in MANIFEST["images"] if i["kind"] == "portrait"]
#: (file, format, declared head covering or None) for every portrait in each of its formats.
PORTRAIT_FORMATS = [
    (i["file"], fmt, i.get("head_covering"))
    for i in MANIFEST["images"]
    if i["kind"] == "portrait"
    for fmt in i["formats"]
]
#: (file, format, code) for every portrait refused in a format whose appearance rules it breaks.
PORTRAIT_REFUSALS = [
    (i["file"], fmt, code)
    for i in MANIFEST["images"]
    if i["kind"] == "portrait"
    for fmt, code in i.get("refusals", {}).items()
]
#: A portrait that becomes a US photo as it is (no declaration): the default-format tests.
US_PORTRAIT = next(f for f, fmt, declared in PORTRAIT_FORMATS if fmt == "us" and not declared)
NO_FACES = [i["file"] for i in MANIFEST["images"] if i["kind"] == "no_face"]


def image_bytes(image: Image.Image, fmt: str = "JPEG", **save_args: Any) -> bytes:
    """An in-memory image encoded as an upload would be (JPEG unless `fmt` says otherwise)."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save_args)
    return buffer.getvalue()


def load_test_image(name: str) -> bytes:
    """The bytes of one file in `test_images/`."""
    return (TEST_IMAGES / name).read_bytes()
