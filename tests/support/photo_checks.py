"""Independent checks on output photos (a different cascade from the app's, on purpose)."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from verify.photo_analysis import detect_faces


def judge_faces(image: Image.Image, min_fraction: float = 0.25) -> list[tuple[int, int, int, int]]:
    """Faces at least ``min_fraction`` of the shorter side, by verify's independent detector."""
    bgr = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR)
    return detect_faces(bgr, min_fraction=min_fraction)


def open_jpeg(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG", image.format
    return image.convert("RGB")


def region_mean(image: Image.Image, box: tuple[int, int, int, int]) -> float:
    """Mean brightness (0..255) of box = (left, top, right, bottom)."""
    return float(np.asarray(image.convert("L").crop(box), dtype=np.float32).mean())


def crown_row(image: Image.Image, face: tuple[int, int, int, int], white: int = 235) -> int:
    """First row (from the top) where the face's central columns stop being white."""
    x, _, w, _ = face
    band = np.asarray(image.convert("L"), dtype=np.float32)[:, x + w // 4 : x + 3 * w // 4]
    rows = np.flatnonzero((band < white).mean(axis=1) > 0.3)
    return int(rows[0]) if rows.size else image.height


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / (aw * ah + bw * bh - inter)
