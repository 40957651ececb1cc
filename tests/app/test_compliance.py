"""Each quality band refuses with its own code, on the real components of real portraits.

The components are measured on the sample portraits (quality.measure on the app's mesh); each
band is then crossed alone (the value moved just outside it) and must give its code, while the
untouched components pass. The HTTP tests (test_quality.py) show the same faults made in pixels.
"""

from __future__ import annotations

import numpy as np
import pytest
from passport_app import compliance, quality
from passport_app.faces import detect_faces
from passport_app.formats import FORMATS
from passport_app.imaging import decode_upload
from passport_app.landmarks import LEFT_EYE, Landmarks, find_landmarks

from common.paths import APP_DIR
from tests.support.photos import load_test_image

MODELS = APP_DIR / "models"


def measured(name: str) -> tuple[np.ndarray, Landmarks]:
    image = decode_upload(load_test_image(name))
    (face,) = detect_faces(image)
    rgb = np.asarray(image)
    lm = find_landmarks(rgb, (face.x, face.y, face.w, face.h), MODELS)
    assert lm is not None
    return rgb, lm


@pytest.fixture(scope="module")
def astronaut() -> dict[str, float]:
    return quality.measure(*measured("astronaut.jpg"))


def codes(components: dict[str, float], fmt: str = "us", declared=None) -> list[str]:
    return [r.code for r in compliance.judge(components, FORMATS[fmt], declared)[1]]


def test_the_untouched_portrait_passes_us(astronaut) -> None:
    assert codes(astronaut) == []


CROSSINGS = [
    ("eyes_open", compliance.MIN_EYES_OPEN - 0.01, "us", "eyes_closed"),
    ("eyeglasses", compliance.MAX_EYEGLASSES + 0.1, "us", "eyeglasses"),
    ("sharpness", compliance.MIN_SHARPNESS - 0.01, "us", "blurry"),
    ("highlights", compliance.MIN_HIGHLIGHTS - 1, "us", "too_dark"),
    ("clipped", compliance.MAX_CLIPPED + 0.01, "us", "overexposed"),
    ("dynamic_range", compliance.MIN_DYNAMIC_RANGE - 1, "us", "low_contrast"),
    ("uniformity", compliance.MIN_UNIFORMITY - 0.01, "us", "uneven_lighting"),
    ("eye_glare", compliance.MAX_EYE_GLARE + 0.01, "eu", "glare_on_glasses"),
    ("eye_tint", compliance.MIN_EYE_TINT - 0.01, "eu", "tinted_glasses"),
]


@pytest.mark.parametrize(("name", "value", "fmt", "code"), CROSSINGS)
def test_each_band_crossed_alone_gives_its_code(astronaut, name, value, fmt, code) -> None:
    components = dict(astronaut)
    if fmt != "us":  # the astronaut smiles: give her a neutral mouth for the eu rules
        components.update(mouth_open=0.02, smile=0.0)
        assert codes(components, fmt) == []
    components[name] = value
    assert codes(components, fmt) == [code]


def test_a_smile_alone_or_an_open_mouth_alone_is_not_neutral_for_eu(astronaut) -> None:
    neutral = {**astronaut, "mouth_open": 0.02, "smile": 0.0}
    assert codes({**neutral, "smile": compliance.MAX_SMILE + 0.01}, "eu") == [
        "expression_not_neutral"
    ]
    assert codes({**neutral, "mouth_open": compliance.MAX_MOUTH_CLOSED + 0.01}, "eu") == [
        "expression_not_neutral"
    ]
    assert codes({**neutral, "smile": 0.5}, "us") == []  # a natural smile: allowed


def test_a_covering_needs_smooth_material_and_a_straight_edge(astronaut) -> None:
    smooth = {**astronaut, "head_covering": compliance.MIN_HAIR_TEXTURE - 0.1}
    straight = {**astronaut, "covering_edge": compliance.MAX_COVERING_EDGE + 0.1}
    assert codes(smooth) == [] and codes(straight) == []  # smooth hair / a clean hairline
    both = {**smooth, "covering_edge": straight["covering_edge"]}
    assert codes(both) == ["head_covering"]
    assert codes(both, "eu") == ["expression_not_neutral", "head_covering"]


def test_a_declared_covering_replaces_the_covering_check(astronaut) -> None:
    covered = {**astronaut, "head_covering": 0.1, "covering_edge": 0.9}
    assert codes(covered, "us", "religious") == []
    hidden = {**covered, "face_visible": compliance.MIN_FACE_VISIBLE - 0.01}
    assert codes(hidden, "us", "religious") == ["head_covering"]


def test_texture_readings_are_not_judged_on_a_blurred_face(astronaut) -> None:
    blurred = {
        **astronaut,
        "sharpness": 0.05,
        "eyeglasses": 3.0,
        "head_covering": 0.1,
        "covering_edge": 0.9,
    }
    report, reasons = compliance.judge(blurred, FORMATS["us"], None)
    assert [r.code for r in reasons] == ["blurry"]
    assert report["eyeglasses"]["judged"] is False


def test_reasons_come_most_important_first_one_per_code(astronaut) -> None:
    bad = {**astronaut, "uniformity": 0.1, "eyeglasses": 3.0, "highlights": 20.0, "eyes_open": 0.0}
    assert codes(bad) == ["eyes_closed", "eyeglasses", "too_dark", "uneven_lighting"]


def test_one_closed_eye_is_eyes_closed_on_the_real_mesh() -> None:
    rgb, lm = measured("grace_hopper.jpg")
    points = lm.points.copy()
    upper, lower = LEFT_EYE[2], LEFT_EYE[3]
    points[upper, :2] = points[lower, :2]  # the subject's left lid shut, the right one open
    shut = Landmarks(points=points, presence=lm.presence)
    assert quality.eyes_open(shut) < compliance.MIN_EYES_OPEN < quality.eyes_open(lm)
    assert "eyes_closed" in codes(quality.measure(rgb, shut), "eu", "religious")
