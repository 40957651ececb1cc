"""The judge's appearance and quality rules (verify.face_quality) fail outputs with each fault.

Two outputs of the current pipeline are the passing cases (fixtures, made from the public-domain
test portraits): ``astronaut_us_ok.jpg`` (US, natural smile) and
``grace_hopper_eu_declared_ok.jpg`` (eu, clear glasses, a declared religious covering). Each
fault is then made on those outputs (blur, exposure, a shadow over half the face, tinted or
glaring lenses) or they are judged against a format whose rules they break (the smile for eu,
the glasses and the cap for us or without the declaration).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.lens_faults import glare, tint
from verify.face_measure import mesh
from verify.photo_analysis import analyse, detect_faces

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ASTRONAUT = FIXTURES / "astronaut_us_ok.jpg"
GRACE = FIXTURES / "grace_hopper_eu_declared_ok.jpg"


def problems_with(needle: str, problems: list[str]) -> list[str]:
    return [p for p in problems if needle in p]


def encode(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()


def test_the_passing_outputs_pass_with_quality_readings() -> None:
    us = analyse(ASTRONAUT.read_bytes(), "us")
    assert us.ok, us.problems
    assert us.quality is not None and us.quality["corner_lift"] > 0.06  # a smile: US allows it
    eu = analyse(GRACE.read_bytes(), "eu", declared_covering=True)
    assert eu.ok, eu.problems


def test_a_smile_fails_a_mouth_closed_format() -> None:
    # Same pixels judged as 35x45 mm: the size is wrong too, the expression is named.
    verdict = analyse((FIXTURES / "astronaut_eu_haar_ratios.jpg").read_bytes(), "eu")
    assert problems_with("expression not neutral", verdict.problems), verdict.problems
    assert not problems_with("expression", analyse(ASTRONAUT.read_bytes(), "us").problems)


def test_glasses_and_a_cap_fail_us_and_the_cap_needs_a_declaration() -> None:
    us = analyse((FIXTURES / "grace_hopper_us_flag_patch.jpg").read_bytes(), "us")
    assert problems_with("eyeglasses", us.problems), us.problems
    assert problems_with("head covering", us.problems), us.problems
    undeclared = analyse(GRACE.read_bytes(), "eu", declared_covering=False)
    assert problems_with("head covering", undeclared.problems), undeclared.problems
    assert not problems_with("eyeglasses", undeclared.problems)  # clear glasses: allowed in eu


def ipd_of(image: np.ndarray) -> float:
    (box,) = detect_faces(image)
    points = mesh(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), box)
    assert points is not None
    return float(np.linalg.norm((points[33] + points[133]) / 2 - (points[263] + points[362]) / 2))


def blurred(image: np.ndarray) -> np.ndarray:
    # σ 4 px at 64 px between the eyes: the blur the app test applies to its upload.
    return cv2.GaussianBlur(image, (0, 0), 4 * ipd_of(image) / 64)


def dark(image: np.ndarray) -> np.ndarray:
    return (image.astype(np.float32) * 0.3).astype(np.uint8)


def bright(image: np.ndarray) -> np.ndarray:
    return np.clip(image.astype(np.float32) * 2.2, 0, 255).astype(np.uint8)


def half_shadow(image: np.ndarray) -> np.ndarray:
    """The person's left half (image left of the centre) at 35 %; the white background kept."""
    out = image.astype(np.float32)
    person = image.min(axis=2) < 230
    person[:, image.shape[1] // 2 :] = False
    out[person] *= 0.35
    return out.astype(np.uint8)


@pytest.mark.parametrize(
    ("fault", "needle"),
    [
        (blurred, "blurred"),
        (dark, "too dark"),
        (bright, "over-exposed"),
        (half_shadow, "uneven lighting"),
    ],
)
@pytest.mark.parametrize(
    ("fixture", "fmt", "declared"), [(ASTRONAUT, "us", False), (GRACE, "eu", True)]
)
def test_image_quality_faults_fail(fault, needle: str, fixture: Path, fmt: str, declared) -> None:
    good = cv2.imread(str(fixture))
    verdict = analyse(encode(fault(good)), fmt, declared_covering=declared)
    assert problems_with(needle, verdict.problems), verdict.problems


def paint_eyes(image: np.ndarray, paint) -> np.ndarray:
    (box,) = detect_faces(image)
    points = mesh(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), box)
    out = image.astype(np.float32)
    for outer, inner in ((33, 133), (263, 362)):
        cx, cy = ((points[outer] + points[inner]) / 2).astype(int)
        r = int(0.5 * np.linalg.norm(points[outer] - points[inner]))
        paint(out[cy - r // 2 : cy + r // 2, cx - r : cx + r])
    return np.clip(out, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("paint", "needle"), [(tint, "tinted lenses"), (glare, "glare")])
def test_tinted_or_glaring_lenses_fail_where_glasses_are_allowed(paint, needle: str) -> None:
    bad = paint_eyes(cv2.imread(str(GRACE)), paint)
    verdict = analyse(encode(bad), "eu", declared_covering=True)
    assert problems_with(needle, verdict.problems), verdict.problems
