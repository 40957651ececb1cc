"""Appearance rules per format and image-quality refusals, through the real app (issue 25).

Each fault is made from a public-domain portrait that passes as it is (the passing case is the
same upload untouched): blur, under- and over-exposure and a shadow over half the face are
applied to the whole photo; tinted lenses and glare are painted over the eyes the app's own mesh
finds; a covering over the forehead is painted above the brows. Every 422 lists all reasons.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from passport_app.faces import detect_faces
from passport_app.imaging import decode_upload
from passport_app.landmarks import Landmarks, find_landmarks
from PIL import Image, ImageEnhance, ImageFilter

from common.paths import APP_DIR
from tests.support.api_calls import assert_error, post_photo
from tests.support.lens_faults import glare, tint
from tests.support.photos import image_bytes, load_test_image

MODELS = APP_DIR / "models"


def codes(error: dict) -> list[str]:
    return [r["code"] for r in error["reasons"]]


def portrait(name: str) -> Image.Image:
    return Image.open(io.BytesIO(load_test_image(name))).convert("RGB")


def mesh_of(image: Image.Image) -> Landmarks:
    decoded = decode_upload(image_bytes(image))
    (face,) = detect_faces(decoded)
    lm = find_landmarks(np.asarray(decoded), (face.x, face.y, face.w, face.h), MODELS)
    assert lm is not None
    return lm


def test_astronaut_smile_passes_us_and_is_refused_for_eu(client) -> None:
    data = load_test_image("astronaut.jpg")
    response = post_photo(client, data, "us")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    report = json.loads(response.headers["X-Passport-Compliance"])
    assert report["rules"]["expression"] == "neutral_or_natural_smile"
    for name in ("eyes_open", "sharpness", "highlights", "uniformity", "eyeglasses"):
        component = report["quality"][name]
        assert component["ok"] is True and len(component["band"]) == 2, (name, component)
    smile = report["quality"]["smile"]  # measured, but the US allows a natural smile
    assert smile["judged"] is False and smile["band"] is None and smile["value"] > 0.06

    error = assert_error(post_photo(client, data, "eu"), 422, "expression_not_neutral")
    assert "neutral expression" in error["message"]
    assert codes(error)[0] == "expression_not_neutral"


def test_grace_hopper_is_refused_for_us_with_eyeglasses_and_head_covering(client) -> None:
    error = assert_error(
        post_photo(client, load_test_image("grace_hopper.jpg"), "us"), 422, "eyeglasses"
    )
    assert {"eyeglasses", "head_covering"} <= set(codes(error))
    for reason in error["reasons"]:
        assert len(reason["message"]) > 20


def test_a_declared_covering_is_accepted_where_glasses_are_allowed(client) -> None:
    data = load_test_image("grace_hopper.jpg")
    assert_error(post_photo(client, data, "eu"), 422, "head_covering")
    response = post_photo(client, data, "eu", head_covering="religious")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert "religious" in response.headers["X-Passport-Statement"]
    report = json.loads(response.headers["X-Passport-Compliance"])
    assert report["head_covering_declared"] == "religious"
    assert report["quality"]["face_visible"]["ok"] is True
    # The US wants a signed statement, and still no glasses.
    error = assert_error(post_photo(client, data, "us", head_covering="medical"), 422, "eyeglasses")
    assert "head_covering" not in codes(error)


def test_a_declared_covering_that_hides_the_forehead_is_refused(client) -> None:
    image = portrait("grace_hopper.jpg")
    lm = mesh_of(image)
    pixels = np.asarray(image).copy()
    brows = int(min(lm.points[55, 1], lm.points[285, 1]))
    left, right = int(lm.points[234, 0]) - 10, int(lm.points[454, 0]) + 10
    pixels[: brows - 4, left:right] = (20, 25, 45)  # the cap pulled down to the brows
    error = assert_error(
        post_photo(client, image_bytes(Image.fromarray(pixels)), "eu", head_covering="religious"),
        422,
        "head_covering",
    )
    assert "hairline" in error["message"]


@pytest.mark.parametrize("value", ["fashion", "RELIGIOUS; DROP", "1"])
def test_an_unknown_head_covering_names_the_allowed_values(client, value: str) -> None:
    error = assert_error(
        post_photo(client, load_test_image("astronaut.jpg"), "us", head_covering=value),
        400,
        "invalid_head_covering",
    )
    assert "religious" in error["message"] and "medical" in error["message"]


def shadow_left_half(image: Image.Image) -> Image.Image:
    lm = mesh_of(image)
    pixels = np.asarray(image).astype(np.float32)
    pixels[:, : int(lm.eye_mid[0])] *= 0.35
    return Image.fromarray(pixels.astype(np.uint8))


DEGRADED = {
    "blurry": lambda im: im.filter(ImageFilter.GaussianBlur(3)),
    "too_dark": lambda im: ImageEnhance.Brightness(im).enhance(0.3),
    "overexposed": lambda im: ImageEnhance.Brightness(im).enhance(2.2),
    "uneven_lighting": shadow_left_half,
}


@pytest.mark.parametrize("code", sorted(DEGRADED))
def test_degraded_photos_are_refused_with_their_code(client, code: str) -> None:
    """The astronaut passes for us untouched (test above); each fault alone refuses it."""
    bad = DEGRADED[code](portrait("astronaut.jpg"))
    error = assert_error(post_photo(client, image_bytes(bad, quality=92), "us"), 422, code)
    assert code in codes(error)


def paint_eyes(image: Image.Image, paint) -> Image.Image:
    lm = mesh_of(image)
    pixels = np.asarray(image).astype(np.float32)
    half = float(np.linalg.norm(lm.eyes[0] - lm.eyes[1])) / 2
    for centre in lm.eyes:
        x, y = int(centre[0]), int(centre[1])
        r = int(0.45 * half)
        paint(pixels[y - r // 2 : y + r // 2, x - r : x + r])
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


@pytest.mark.parametrize(("paint", "code"), [(tint, "tinted_glasses"), (glare, "glare_on_glasses")])
def test_tinted_lenses_and_glare_are_refused_where_glasses_are_allowed(
    client, paint, code: str
) -> None:
    bad = paint_eyes(portrait("grace_hopper.jpg"), paint)
    error = assert_error(
        post_photo(client, image_bytes(bad, quality=92), "eu", head_covering="religious"),
        422,
        code,
    )
    assert code in codes(error)


@pytest.mark.parametrize("cut", [185, 200, 230])
def test_a_face_the_haar_gate_misses_at_the_edge_is_face_at_edge_not_no_face(
    client, cut: int
) -> None:
    image = portrait("grace_hopper.jpg").crop((cut, 0, 512, 600))
    assert detect_faces(image) == []  # the cascade alone would answer no_face
    for fmt in ("us", "eu"):
        error = assert_error(post_photo(client, image_bytes(image), fmt), 422, "face_at_edge")
        assert "no_face" not in codes(error)
