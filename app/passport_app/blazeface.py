"""Second face finder for when the Haar gate sees none: BlazeFace (short range) on LiteRT.

The Haar cascade misses faces it only partly sees (a face at the edge of the picture, a half in
shadow, an over-exposed one), and answering ``no_face`` then sends the user to retake the photo
for the wrong reason. BlazeFace (``face_detection_short_range.tflite``, from the same mediapipe
wheel as the mesh) finds those; when it finds exactly one face, the pipeline meshes it and
refuses for what is really wrong (face_at_edge, pose, quality) or frames it. The mesh's own
presence score still has the last word on "is this a face" (non-faces stay ``no_face``).

The image is padded to a square with its edge pixels and run at 128x128 (the model's input,
values in [-1, 1]); 896 anchors (16x16x2 + 8x8x6), boxes decoded relative to them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .landmarks import run_model

DETECTOR_FILE = "face_detection_short_range.tflite"
SIDE = 128
#: Score logit above which a detection counts (0 = probability 0.5).
MIN_LOGIT = 0.0
#: Detections overlapping more than this are the same face.
SAME_FACE_IOU = 0.3
#: As for the Haar gate: a face smaller than this share of the shorter side is no portrait.
MIN_FACE_FRACTION = 0.10


def _anchors() -> np.ndarray:
    centres = []
    for grid, per_cell in ((16, 2), (8, 6)):
        for y in range(grid):
            for x in range(grid):
                centres.extend([((x + 0.5) / grid, (y + 0.5) / grid)] * per_cell)
    return np.array(centres, dtype=np.float32)


ANCHORS = _anchors()


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def detect(rgb: np.ndarray, models: Path) -> list[tuple[int, int, int, int]]:
    """Face boxes (x, y, w, h) in ``rgb`` pixels, best first, overlapping detections merged."""
    height, width = rgb.shape[:2]
    side = max(height, width)
    square = cv2.copyMakeBorder(
        rgb, 0, side - height, 0, side - width, cv2.BORDER_REPLICATE
    )  # top-left aligned: boxes map back by the scale alone
    tensor = cv2.resize(square, (SIDE, SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)
    outputs = run_model(models / DETECTOR_FILE, tensor / 127.5 - 1.0)
    regressors = next(o for o in outputs if o.shape[-1] == 16)[0]
    scores = next(o for o in outputs if o.shape[-1] == 1)[0, :, 0]
    keep = np.flatnonzero(scores > MIN_LOGIT)
    boxes = []
    for index in keep[np.argsort(-scores[keep])]:
        cx, cy = regressors[index, 0:2] / SIDE + ANCHORS[index]
        w, h = regressors[index, 2:4] / SIDE
        box = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]) * side
        if all(_iou(box, other) <= SAME_FACE_IOU for other in boxes):
            boxes.append(box)
    min_side = MIN_FACE_FRACTION * min(height, width)
    return [
        (round(b[0]), round(b[1]), round(b[2] - b[0]), round(b[3] - b[1]))
        for b in boxes
        if min(b[2] - b[0], b[3] - b[1]) >= min_side
    ]
