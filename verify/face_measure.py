"""The judge's own face measurements on a finished passport photo (no app code imported).

Independent of the app in what matters for a verdict:

* the crown is read off the photo's pixels (first non-white row above the face), not from any
  mask the app computed;
* the face is found by OpenCV's *default* frontal cascade (the app uses alt2), and the landmark
  ROI, preprocessing and read-out are this module's own code;
* the eye line, roll and centring come from BlazeFace (``face_detection_short_range.tflite``),
  a different network from the mesh the app frames with, decoded by this module;
* only the chin comes from MediaPipe's 468-point mesh, the same published weights the app
  runs (no other chin model is available offline), so it is cross-checked twice: the mesh's
  eye line must agree with BlazeFace's within 3 % of the height, and the chin must lie
  0.85–1.45 cascade-box heights below the independent cascade box's top;
* the format bands are the published figures, written here again (``RULES``), not imported.

It reads ``face_landmark.tflite`` from ``$VERIFY_MODELS_DIR`` (default: the repo's app/models,
fetched by ``python -m app.models fetch mediapipe``) and checks its md5 itself.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common.paths import APP_DIR

MESH_MD5 = "a2f063148e9ea5ac92e01c4734181a5e"  # pragma: allowlist secret (md5)
DEFAULT_MODELS = APP_DIR / "models"

#: Published rules (fractions of the photo height), written out independently of the app.
#: US: travel.state.gov (2x2 in; head 1–1 3/8 in; eyes 1 1/8–1 3/8 in from the bottom).
#: eu: ICAO Doc 9303 Part 3 / Schengen (35x45 mm; chin–crown 32–36 mm).
#: uk: gov.uk/photos-for-passports (35x45 mm; 29–34 mm). ca: canada.ca (50x70 mm; 31–36 mm).
RULES: dict[str, dict] = {
    "us": {"size": (600, 600), "head": (1 / 2, 1.375 / 2), "eyes": (1.125 / 2, 1.375 / 2)},
    "eu": {"size": (413, 531), "head": (32 / 45, 36 / 45), "eyes": None},
    "uk": {"size": (413, 531), "head": (29 / 45, 34 / 45), "eyes": None},
    "ca": {"size": (591, 827), "head": (31 / 70, 36 / 70), "eyes": None},
}
NON_WHITE = 225  # a pixel whose darkest channel is below this is not background
_local = threading.local()


class JudgeModelMissing(RuntimeError):
    """The mesh weights are not where the judge looks; the message says how to fetch them."""


def _mesh_path() -> Path:
    path = Path(os.environ.get("VERIFY_MODELS_DIR") or DEFAULT_MODELS) / "face_landmark.tflite"
    if not path.is_file():
        raise JudgeModelMissing(
            f"{path} is missing; run `python -m app.models fetch mediapipe` "
            "(or set VERIFY_MODELS_DIR)"
        )
    if hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest() != MESH_MD5:
        raise JudgeModelMissing(f"{path} does not have the published md5 {MESH_MD5}")
    return path


def _interpreter():
    interpreter = getattr(_local, "mesh", None)
    if interpreter is None:
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(_mesh_path()), num_threads=1)
        interpreter.allocate_tensors()
        _local.mesh = interpreter
    return interpreter


def mesh(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """468 (x, y) points for the face in ``box``, or None when the model sees no face."""
    x, y, w, h = box
    side = 1.8 * max(w, h)
    cx, cy = x + w / 2, y + 0.6 * h
    src = np.float32(
        [
            [cx - side / 2, cy - side / 2],
            [cx + side / 2, cy - side / 2],
            [cx - side / 2, cy + side / 2],
        ]
    )
    dst = np.float32([[0, 0], [192, 0], [0, 192]])
    matrix = cv2.getAffineTransform(src, dst)
    roi = cv2.warpAffine(
        rgb, matrix, (192, 192), borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255)
    )
    interp = _interpreter()
    interp.set_tensor(
        interp.get_input_details()[0]["index"], (roi.astype(np.float32) / 255.0)[None]
    )
    interp.invoke()
    outs = [interp.get_tensor(o["index"]) for o in interp.get_output_details()]
    points = next(o for o in outs if o.size == 1404).reshape(468, 3)[:, :2]
    score = float(next(o for o in outs if o.size == 1).ravel()[0])
    if score < 0:  # logit: presence below 0.5
        return None
    inverse = cv2.invertAffineTransform(matrix)
    return points @ inverse[:, :2].T + inverse[:, 2]


@dataclass
class FaceMeasure:
    crown: float  # rows, from the top
    eye: float
    chin: float
    centre_x: float
    roll_deg: float
    face_left: float
    face_right: float
    chin_in_box: float  # chin below the cascade box's top, in box heights
    mesh_eye: float  # the mesh's own eye line, for the cross-check against BlazeFace

    def to_dict(self) -> dict:
        return {k: round(v, 2) for k, v in self.__dict__.items()}


def measure(bgr: np.ndarray, box: tuple[int, int, int, int]) -> FaceMeasure | None:
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    points = mesh(rgb, box)
    if points is None:
        return None
    mesh_eye = float((points[33][1] + points[133][1] + points[263][1] + points[362][1]) / 4)
    eyes = detector_eyes(bgr, box)
    if eyes is None:
        return None
    right_eye, left_eye = eyes
    eye = (right_eye + left_eye) / 2
    roll = math.degrees(math.atan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0]))
    left, right = float(points[:, 0].min()), float(points[:, 0].max())
    width = right - left
    cols = bgr[:, max(0, int(eye[0] - 0.25 * width)) : int(eye[0] + 0.25 * width)]
    dark = (cols.min(axis=2) < NON_WHITE).mean(axis=1) >= 0.3
    above = np.flatnonzero(dark[: int(eye[1])])
    crown = float(above[0]) if above.size else float(eye[1])
    return FaceMeasure(
        crown=crown,
        eye=float(eye[1]),
        chin=float(points[152][1]),
        centre_x=float(eye[0]),
        roll_deg=roll,
        face_left=left,
        face_right=right,
        chin_in_box=(float(points[152][1]) - box[1]) / box[3],
        mesh_eye=mesh_eye,
    )


def beside_head_share(bgr: np.ndarray, m: FaceMeasure) -> float:
    """Non-white share beside the face from the eye line to the chin (outside the face ± 45 %).

    There a passport photo shows the face and perhaps the ends of the hair; a flag, a door
    frame or a second person is what this finds. Measured here: good outputs ≤ 0.0064, the
    flag patch of the two-pass pipeline 0.010 (BESIDE_MAX sits between).
    """
    width = m.face_right - m.face_left
    top, bottom = max(0, int(m.eye)), max(0, int(m.chin))
    left_end = max(0, int(m.face_left - BESIDE_MARGIN * width))
    right_start = min(bgr.shape[1], int(m.face_right + BESIDE_MARGIN * width))
    parts = [bgr[top:bottom, :left_end], bgr[top:bottom, right_start:]]
    total = sum(p.shape[0] * p.shape[1] for p in parts)
    if total == 0:
        return 0.0
    return sum(int((p.min(axis=2) < NON_WHITE).sum()) for p in parts) / total


BESIDE_MARGIN = 0.45
BESIDE_MAX = 0.008


DETECTOR_MD5 = "c21001d6003fe98ed674c5f6c13ca652"  # pragma: allowlist secret (md5)


def _anchors() -> np.ndarray:
    """BlazeFace short-range SSD anchor centres: 16x16 grid x 2, then 8x8 grid x 6 (896)."""
    centres = []
    for grid, per_cell in ((16, 2), (8, 6)):
        for y in range(grid):
            for x in range(grid):
                centres.extend([((x + 0.5) / grid, (y + 0.5) / grid)] * per_cell)
    return np.array(centres, dtype=np.float32)


_ANCHORS = _anchors()


def _detector():
    interpreter = getattr(_local, "detector", None)
    if interpreter is None:
        from ai_edge_litert.interpreter import Interpreter

        path = _mesh_path().parent / "face_detection_short_range.tflite"
        if not path.is_file() or (
            hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest() != DETECTOR_MD5
        ):
            raise JudgeModelMissing(
                f"{path} is missing or corrupt; run `python -m app.models fetch mediapipe`"
            )
        interpreter = Interpreter(model_path=str(path), num_threads=1)
        interpreter.allocate_tensors()
        _local.detector = interpreter
    return interpreter


def detector_eyes(
    bgr: np.ndarray, box: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray] | None:
    """The two eye centres by BlazeFace (a different network from the mesh), image pixels.

    A white-padded square of 2.2 box sides around the cascade's ``box`` is run at 128x128
    ([-1, 1] input, so the face fills the detector's input, as on a selfie), and the
    best-scoring anchor's eye keypoints are decoded. None when nothing scores above 0.5.
    """
    x, y, w, h = box
    side = int(2.2 * max(w, h))
    off_x, off_y = int(x + w / 2 - side / 2), int(y + h / 2 - side / 2)
    square = cv2.copyMakeBorder(
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB),
        side,
        side,
        side,
        side,
        cv2.BORDER_CONSTANT,
        value=(255, 255, 255),
    )[off_y + side : off_y + 2 * side, off_x + side : off_x + 2 * side]
    off_x, off_y = -off_x, -off_y
    tensor = cv2.resize(square, (128, 128), interpolation=cv2.INTER_AREA).astype(np.float32)
    interp = _detector()
    interp.set_tensor(interp.get_input_details()[0]["index"], (tensor / 127.5 - 1.0)[None])
    interp.invoke()
    outs = {o["name"]: interp.get_tensor(o["index"]) for o in interp.get_output_details()}
    regressors = next(v for k, v in outs.items() if v.shape[-1] == 16)[0]
    scores = next(v for k, v in outs.items() if v.shape[-1] == 1)[0, :, 0]
    best = int(np.argmax(scores))
    if scores[best] < 0:  # logit below 0: probability below 0.5
        return None
    anchor = _ANCHORS[best]

    def point(k: int) -> np.ndarray:
        raw = regressors[best, 4 + 2 * k : 6 + 2 * k] / 128.0 + anchor
        return raw * side - np.array([off_x, off_y], dtype=np.float32)

    return point(0), point(1)
