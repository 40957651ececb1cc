"""Face image quality components (after ISO/IEC 29794-5 and the BSI's OFIQ), from the mesh.

Each component is one number measured on the (levelled) upload around the 468-point face mesh;
compliance.py holds the bands they are judged against and why each band is where it is. The
face region is the mesh's oval; sizes are normalised to the inter-eye distance (IPD) so the same
band holds for a 40 px and a 400 px face. Every method is plain image arithmetic (a few ms):

* ``mouth_open``: inner-lip gap / mouth width (OFIQ "mouth closed" uses the same two lips).
* ``smile``: lift of the mouth corners above the lip midline / mouth width (a neutral mouth
  is flat, a smile raises the corners).
* ``eyes_open``: the *less* open eye's lid gap / eye width (OFIQ "eyes open": both eyes).
* ``eyeglasses``: the strongest horizontal edge on the nose bridge between the eyes (a frame's
  bridge) at 64 px IPD, over the face's own intensity spread (so exposure does not move it).
* ``eye_glare``: share of clipped (≥ 250) pixels around the eyes (reflections on lenses).
* ``eye_tint``: eye-region brightness / cheek brightness (tinted lenses darken the eyes).
* ``head_covering``: texture of the band above the mesh's forehead top (hair) over the face's
  texture, both as Laplacian spread at 64 px IPD; smooth fabric there reads far below hair.
* ``covering_edge``: the largest jump of the row means from above the forehead top down to the
  brows, over the face's intensity spread: a brim or a scarf's edge is a straight line across
  the forehead, a hairline is ragged. A covering needs both (smooth above, straight edge).
* ``face_visible``: with a declared covering, the brightness of the top of the forehead and
  the two face edges relative to the cheeks (a covering over the hairline or the cheeks is far
  darker or lighter than skin), the smallest of the three.
* ``sharpness``: Laplacian spread / intensity spread inside the face at 64 px IPD (OFIQ
  "sharpness" is a learned model over similar filter responses; this is its simple core).
* ``luminance``: mean face luminance, 0–255 (OFIQ "luminance mean"); reported, not judged:
  a well-exposed dark-skinned face reads a low mean, so under-exposure is judged on
* ``highlights``: the 95th percentile of face luminance (the brightest skin: forehead, nose),
  which under-exposure pulls down whatever the skin tone.
* ``clipped``: share of face pixels at ≥ 250 (over-exposure; OFIQ "over-exposure prevention").
* ``dynamic_range``: 5th to 95th percentile of face luminance (OFIQ "dynamic range").
* ``uniformity``: darker face half's mean / brighter half's mean, split at the eye midpoint
  (OFIQ "illumination uniformity" compares the two halves too).
"""

from __future__ import annotations

import cv2
import numpy as np

from .landmarks import LEFT_EYE, MOUTH_CORNERS, RIGHT_EYE, Landmarks

#: Mesh indices of the face oval (MediaPipe FACEMESH_FACE_OVAL, in order around the face).
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
FOREHEAD_TOP = 10
NOSE_BRIDGE = 6  # between the eyes, below the brows
BROWS = (55, 285)  # inner ends of the brows
BROW_OUTER = (70, 300)
BROWS_TOP = (105, 334)
CHEEK_POINTS = (50, 280)
FACE_EDGES = (234, 454)
INNER_CORNERS = (RIGHT_EYE[1], LEFT_EYE[1])
UPPER_LIP, LOWER_LIP = 13, 14
#: Everything is measured at this inter-eye distance (pixels).
IPD_PX = 64.0
CLIPPED = 250


def _scaled(gray: np.ndarray, box: tuple[int, int, int, int], scale: float) -> np.ndarray:
    x0, y0, x1, y1 = box
    h, w = gray.shape
    part = gray[max(0, y0) : max(0, min(h, y1)), max(0, x0) : max(0, min(w, x1))]
    if part.size == 0:
        return np.zeros((1, 1), np.float32)
    return cv2.resize(part, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def _patch_mean(gray: np.ndarray, centre: np.ndarray, half: float) -> float:
    x, y = int(centre[0]), int(centre[1])
    r = max(1, int(half))
    part = gray[max(0, y - r) : max(0, y + r), max(0, x - r) : max(0, x + r)]
    return float(part.mean()) if part.size else 0.0


def face_mask(shape: tuple[int, int], lm: Landmarks) -> np.ndarray:
    """The mesh's face oval as a boolean mask of ``shape``."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [lm.points[list(FACE_OVAL), :2].astype(np.int32)], 1)
    return mask.astype(bool)


def expression(lm: Landmarks) -> dict[str, float]:
    pts = lm.points[:, :2]
    width = max(float(np.linalg.norm(pts[MOUTH_CORNERS[0]] - pts[MOUTH_CORNERS[1]])), 1e-6)
    mid_y = (pts[UPPER_LIP, 1] + pts[LOWER_LIP, 1]) / 2
    corners_y = (pts[MOUTH_CORNERS[0], 1] + pts[MOUTH_CORNERS[1], 1]) / 2
    return {"mouth_open": lm.mouth_open, "smile": float((mid_y - corners_y) / width)}


def eyes_open(lm: Landmarks) -> float:
    pts = lm.points[:, :2]

    def ratio(eye: tuple[int, ...]) -> float:
        width = max(float(np.linalg.norm(pts[eye[0]] - pts[eye[1]])), 1e-6)
        return float(np.linalg.norm(pts[eye[2]] - pts[eye[3]])) / width

    return min(ratio(RIGHT_EYE), ratio(LEFT_EYE))


def eyewear(gray: np.ndarray, lm: Landmarks, face_std: float, scale: float) -> dict[str, float]:
    pts = lm.points[:, :2]
    a, b = pts[INNER_CORNERS[0]], pts[INNER_CORNERS[1]]
    span = b[0] - a[0]
    top = min(pts[BROWS[0], 1], pts[BROWS[1], 1])
    box = (int(a[0] + 0.2 * span), int(top), int(b[0] - 0.2 * span), int(pts[NOSE_BRIDGE, 1]))
    bridge = _scaled(gray, box, scale)
    edge = np.abs(cv2.Sobel(bridge, cv2.CV_32F, 0, 1, ksize=3)).mean(axis=1).max()
    eye_w = float(np.linalg.norm(lm.eyes[0] - lm.eyes[1])) / 2
    clipped, eye_mean = [], []
    for centre in lm.eyes:
        x, y = int(centre[0]), int(centre[1])
        r = max(1, int(0.45 * eye_w))
        part = gray[max(0, y - r // 2) : max(0, y + r // 2), max(0, x - r) : max(0, x + r)]
        if part.size:
            clipped.append(float((part >= CLIPPED).mean()))
            eye_mean.append(float(part.mean()))
    cheeks = np.mean([_patch_mean(gray, pts[i], 0.25 * eye_w) for i in CHEEK_POINTS])
    return {
        "eyeglasses": float(edge) / max(face_std, 1.0),
        "eye_glare": max(clipped, default=0.0),
        "eye_tint": float(np.mean(eye_mean)) / max(float(cheeks), 1.0) if eye_mean else 1.0,
    }


def covering(
    gray: np.ndarray, lm: Landmarks, face_texture: float, face_std: float, scale: float
) -> dict:
    pts = lm.points[:, :2]
    fh = lm.face_height
    top = pts[FOREHEAD_TOP]
    x0, x1 = int(pts[BROW_OUTER[0], 0]), int(pts[BROW_OUTER[1], 0])
    band = _scaled(gray, (x0, int(top[1] - 0.12 * fh), x1, int(top[1])), scale)
    texture = float(cv2.Laplacian(band, cv2.CV_32F).std()) if band.size > 1 else 0.0
    # A covering's lower edge runs straight across the forehead: the mean of each row, from
    # above the forehead top down to the brows, jumps there (a hairline is ragged: it does not).
    brows = min(pts[BROWS_TOP[0], 1], pts[BROWS_TOP[1], 1])
    strip = _scaled(gray, (x0, int(top[1] - 0.12 * fh), x1, int(brows - 0.01 * fh)), scale)
    rows = cv2.GaussianBlur(strip, (0, 0), 1.0).mean(axis=1) if strip.size > 4 else np.zeros(3)
    edge = float(np.abs(rows[2:] - rows[:-2]).max()) / max(face_std, 1.0) if rows.size > 2 else 0.0
    eye_w = float(np.linalg.norm(lm.eyes[0] - lm.eyes[1])) / 2
    cheeks = float(np.mean([_patch_mean(gray, pts[i], 0.25 * eye_w) for i in CHEEK_POINTS]))
    forehead = _patch_mean(gray, top + np.array([0.0, 0.05 * fh]), 0.04 * fh)
    centre_x = float(lm.eye_mid[0])
    inward = [np.array([0.06 * fh * np.sign(centre_x - pts[i, 0]), 0.0]) for i in FACE_EDGES]
    edges = [
        _patch_mean(gray, pts[i] + step, 0.03 * fh)
        for i, step in zip(FACE_EDGES, inward, strict=True)
    ]

    def likeness(value: float) -> float:
        """1 for cheek brightness, falling towards 0 as far darker or far lighter."""
        return min(value, cheeks) / max(value, cheeks, 1.0)

    return {
        "head_covering": texture / max(face_texture, 1e-3),
        "covering_edge": edge,
        "face_visible": min(likeness(forehead), *(likeness(e) for e in edges)),
    }


def measure(rgb: np.ndarray, lm: Landmarks) -> dict[str, float]:
    """Every component for the face ``lm`` in the RGB ``rgb`` (raw values, not judged)."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mask = face_mask(gray.shape, lm)
    face = gray[mask]
    if face.size < 16:
        face = gray.ravel()
    ipd = max(float(np.linalg.norm(lm.eyes[0] - lm.eyes[1])), 1.0)
    scale = IPD_PX / ipd
    low, high = lm.points[:, :2].min(axis=0), lm.points[:, :2].max(axis=0)
    box = (int(low[0]), int(low[1]), int(high[0]) + 1, int(high[1]) + 1)
    small = _scaled(gray, box, scale)
    small_mask = _scaled(mask.astype(np.float32), box, scale) > 0.5
    lap = cv2.Laplacian(small, cv2.CV_32F)
    inside = small_mask if small_mask.sum() >= 16 else np.ones_like(small_mask)
    face_std = float(small[inside].std())
    face_texture = float(lap[inside].std())
    columns = np.arange(gray.shape[1])[None, :]
    split = float(lm.eye_mid[0])
    halves = [gray[mask & (columns < split)], gray[mask & (columns >= split)]]
    means = [float(h.mean()) for h in halves if h.size]
    p5, p95 = np.percentile(face, [5, 95])
    return {
        **expression(lm),
        "eyes_open": eyes_open(lm),
        **eyewear(gray, lm, face_std, scale),
        **covering(gray, lm, face_texture, face_std, scale),
        "sharpness": face_texture / max(face_std, 1.0),
        "luminance": float(face.mean()),
        "highlights": float(p95),
        "clipped": float((face >= CLIPPED).mean()),
        "dynamic_range": float(p95 - p5),
        "uniformity": min(means) / max(max(means), 1.0) if len(means) == 2 else 1.0,
    }
