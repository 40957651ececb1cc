"""Pose refusals (turned, tilted, mouth open, eyes closed) on real meshes, then perturbed.

No public-domain photo of a talking, eyes-closed or turned person ships in a PyPI package we
found (test_images/README.md), so each refusal is shown on the real mesh of a real portrait
whose relevant points are moved the way that pose moves them; the frontal originals pass.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from passport_app.errors import ApiError
from passport_app.faces import detect_faces
from passport_app.imaging import decode_upload
from passport_app.landmarks import (
    CHEEKS,
    LEFT_EYE,
    LOWER_LIP,
    MOUTH_CORNERS,
    RIGHT_EYE,
    Landmarks,
    find_landmarks,
)
from passport_app.pipeline import check_pose

from common.paths import APP_DIR
from tests.support.photos import load_test_image

MODELS = APP_DIR / "models"


@pytest.fixture(scope="module", params=["astronaut.jpg", "grace_hopper.jpg"])
def mesh(request) -> Landmarks:
    image = decode_upload(load_test_image(request.param))
    (face,) = detect_faces(image)
    lm = find_landmarks(np.asarray(image), (face.x, face.y, face.w, face.h), MODELS)
    assert lm is not None
    return lm


def refused(points: np.ndarray, presence: float) -> str:
    with pytest.raises(ApiError) as info:
        check_pose(Landmarks(points=points, presence=presence))
    assert info.value.status == 422
    return info.value.code


def test_frontal_portraits_pass(mesh: Landmarks) -> None:
    check_pose(mesh)
    assert abs(mesh.yaw_deg) < 4 and abs(mesh.roll_deg) < 4
    assert mesh.eye_openness > 0.2


def test_open_mouth_is_refused(mesh: Landmarks) -> None:
    points = mesh.points.copy()
    width = np.linalg.norm(points[MOUTH_CORNERS[0], :2] - points[MOUTH_CORNERS[1], :2])
    points[LOWER_LIP, 1] += 0.45 * width  # jaw dropped: talking
    assert refused(points, mesh.presence) == "mouth_open"


def test_closed_eyes_are_refused(mesh: Landmarks) -> None:
    points = mesh.points.copy()
    for eye in (RIGHT_EYE, LEFT_EYE):
        middle = (points[eye[0], :2] + points[eye[1], :2]) / 2
        points[eye[2], :2] = points[eye[3], :2] = middle  # lids meet
    assert refused(points, mesh.presence) == "eyes_closed"


def test_turned_head_is_refused(mesh: Landmarks) -> None:
    points = mesh.points.copy()
    right, left = CHEEKS
    span = points[left, 0] - points[right, 0]
    points[left, 2] = points[right, 2] + math.tan(math.radians(20)) * span  # 20° of yaw
    assert refused(points, mesh.presence) == "head_turned"


def test_strongly_tilted_head_is_refused(mesh: Landmarks) -> None:
    centre = mesh.eye_mid
    angle = math.radians(30)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    points = mesh.points.copy()
    points[:, :2] = (points[:, :2] - centre) @ rotation.T + centre
    assert refused(points, mesh.presence) == "head_tilted"
