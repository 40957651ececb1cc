"""Face landmarks and person segmentation with MediaPipe's TFLite models on ai-edge-litert.

Why landmarks: a Haar box spans roughly brows-to-mouth and says nothing reliable about the chin,
the eye line or the head's pose; framing from box ratios put heads at 46–47 % of a US photo (rule
50–69 %). The 468-point face mesh (``face_landmark.tflite``) gives the chin (point 152), the eye
corners, the lips and the eyelids directly, which is what the format rules and the refusals
(turned, tilted, mouth open, eyes closed) are stated in.

Why these files and this runtime: they are the official weights inside the ``mediapipe==0.10.21``
wheel (fetched and md5-checked by ``app.models``; the wheel itself pins numpy<2 and is never
installed). ``face_landmark_with_attention.tflite`` needs mediapipe's own custom ops, so the plain
mesh is used. ``ai-edge-litert`` is Google's maintained TFLite runtime and works with numpy 2.
Measured here: one mesh inference ≈ 1.5 ms, one selfie segmentation ≈ 5 ms (2 cores).

A TFLite ``Interpreter`` must not be used from two threads at once; gunicorn runs several
threads per worker, so each thread gets its own (loading one takes a few ms, once per thread).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

MESH_FILE = "face_landmark.tflite"
SEGMENTATION_FILE = "selfie_segmentation.tflite"
MESH_SIDE = 192
SEGMENTATION_SIDE = 256
#: ROI side = this x the landmarks' extent (MediaPipe's own tracking uses 1.5).
ROI_SCALE = 1.5
#: Below this the mesh model says "no face in the ROI".
MIN_PRESENCE = 0.5

# Mesh point indices (MediaPipe canonical face mesh).
CHIN = 152
FOREHEAD = 10
NOSE_TIP = 1
RIGHT_EYE = (33, 133, 159, 145)  # outer, inner, upper lid, lower lid (subject's right)
LEFT_EYE = (263, 362, 386, 374)
UPPER_LIP, LOWER_LIP = 13, 14  # inner lip midpoints
MOUTH_CORNERS = (61, 291)
CHEEKS = (234, 454)  # face contour at the ears' height: right, left

_local = threading.local()


def make_interpreter(path: Path, threads: int = 1):
    """The one place a TFLite interpreter is created (thread count here, as for ORT sessions)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


def _interpreter(path: Path):
    cache = getattr(_local, "interpreters", None)
    if cache is None:
        cache = _local.interpreters = {}
    key = str(path)
    if key not in cache:
        cache[key] = make_interpreter(path)
    return cache[key]


def _run(interpreter, tensor: np.ndarray) -> list[np.ndarray]:
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor[None])
    interpreter.invoke()
    return [interpreter.get_tensor(o["index"]) for o in interpreter.get_output_details()]


@dataclass(frozen=True)
class Landmarks:
    """The mesh in input-image pixels (x, y) plus relative depth z, and what follows from it."""

    points: np.ndarray  # (468, 3)
    presence: float

    def xy(self, index: int) -> np.ndarray:
        return self.points[index, :2]

    @property
    def chin_y(self) -> float:
        return float(self.points[CHIN, 1])

    def eye_centre(self, eye: tuple[int, ...]) -> np.ndarray:
        return (self.xy(eye[0]) + self.xy(eye[1])) / 2

    @property
    def eyes(self) -> tuple[np.ndarray, np.ndarray]:
        """(subject's right eye centre, left eye centre) = (image left, image right)."""
        return self.eye_centre(RIGHT_EYE), self.eye_centre(LEFT_EYE)

    @property
    def eye_mid(self) -> np.ndarray:
        right, left = self.eyes
        return (right + left) / 2

    @property
    def roll_deg(self) -> float:
        """Angle of the eye line; positive = the subject's left eye (image right) is lower."""
        right, left = self.eyes
        return math.degrees(math.atan2(left[1] - right[1], left[0] - right[0]))

    @property
    def yaw_deg(self) -> float:
        """Turn from the depth of the two cheek points (0 = facing the camera)."""
        right, left = self.points[CHEEKS[0]], self.points[CHEEKS[1]]
        return math.degrees(math.atan2(left[2] - right[2], left[0] - right[0]))

    @property
    def face_height(self) -> float:
        return float(np.linalg.norm(self.xy(CHIN) - self.xy(FOREHEAD)))

    @property
    def mouth_open(self) -> float:
        """Inner-lip gap over mouth width (about 0 closed, > 0.15 talking)."""
        gap = np.linalg.norm(self.xy(UPPER_LIP) - self.xy(LOWER_LIP))
        width = np.linalg.norm(self.xy(MOUTH_CORNERS[0]) - self.xy(MOUTH_CORNERS[1]))
        return float(gap / max(width, 1e-6))

    @property
    def eye_openness(self) -> float:
        """The more open eye's lid gap over its width (about 0.3 open, < 0.1 closed)."""

        def ratio(eye: tuple[int, ...]) -> float:
            gap = np.linalg.norm(self.xy(eye[2]) - self.xy(eye[3]))
            return float(gap / max(np.linalg.norm(self.xy(eye[0]) - self.xy(eye[1])), 1e-6))

        return max(ratio(RIGHT_EYE), ratio(LEFT_EYE))


def _mesh_once(
    image: np.ndarray, centre: tuple[float, float], side: float, angle: float, models: Path
) -> Landmarks:
    """One mesh inference on a square ROI (rotated by ``angle`` degrees) mapped back to image."""
    matrix = cv2.getRotationMatrix2D(centre, angle, MESH_SIDE / side)
    matrix[0, 2] += MESH_SIDE / 2 - centre[0]
    matrix[1, 2] += MESH_SIDE / 2 - centre[1]
    roi = cv2.warpAffine(
        image,
        matrix,
        (MESH_SIDE, MESH_SIDE),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    outputs = _run(_interpreter(models / MESH_FILE), roi.astype(np.float32) / 255.0)
    raw = next(o for o in outputs if o.size == 468 * 3).reshape(468, 3)
    score = float(next(o for o in outputs if o.size == 1).ravel()[0])
    inverse = cv2.invertAffineTransform(matrix)
    points = raw.copy()
    points[:, :2] = raw[:, :2] @ inverse[:, :2].T + inverse[:, 2]
    points[:, 2] = raw[:, 2] * side / MESH_SIDE
    return Landmarks(points=points, presence=1.0 / (1.0 + math.exp(-score)))


def find_landmarks(
    image: np.ndarray, box: tuple[int, int, int, int], models: Path
) -> Landmarks | None:
    """The mesh for the face in ``box`` (x, y, w, h) of the RGB ``image``; None if not a face.

    Two passes, as MediaPipe tracks: a first ROI from the detector's box, then a second one
    from the first landmarks' extent, rotated upright, so rolled heads are meshed upright.
    """
    x, y, w, h = box
    first = _mesh_once(image, (x + w / 2, y + 0.55 * h), 1.7 * max(w, h), 0.0, models)
    if first.presence < MIN_PRESENCE:
        return None
    low, high = first.points[:, :2].min(axis=0), first.points[:, :2].max(axis=0)
    centre = (float(low[0] + high[0]) / 2, float(low[1] + high[1]) / 2)
    second = _mesh_once(image, centre, ROI_SCALE * float(max(high - low)), first.roll_deg, models)
    return second if second.presence >= MIN_PRESENCE else None


def person_mask(image: np.ndarray, models: Path) -> np.ndarray:
    """Selfie-segmentation person probability (0..1 float, image size) for an RGB crop.

    A person model, not a salient-object model: a flag or poster behind the subject is
    background to it, which is what U²-Net gets wrong. Coarse (256 px) but a few ms.
    """
    small = cv2.resize(image, (SEGMENTATION_SIDE, SEGMENTATION_SIDE), interpolation=cv2.INTER_AREA)
    outputs = _run(_interpreter(models / SEGMENTATION_FILE), small.astype(np.float32) / 255.0)
    mask = outputs[0].reshape(SEGMENTATION_SIDE, SEGMENTATION_SIDE).astype(np.float32)
    return cv2.resize(mask, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)


def run_model(path: Path, tensor: np.ndarray) -> list[np.ndarray]:
    """One inference of the ``.tflite`` at ``path`` (this thread's interpreter) on ``tensor``."""
    return _run(_interpreter(path), tensor)
