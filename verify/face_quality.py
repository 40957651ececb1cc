"""The judge's own face-quality readings on a finished passport photo (no app code imported).

The app refuses uploads that break a format's appearance rules (expression, eyewear, head
covering) or are blurred, badly exposed or unevenly lit; this module measures the same
components on the *output*, with methods written here, so a fault the app let through fails
the ml check. Where the app and the judge measure the same property, the judge's method is a
different one where one exists:

* expression: inner-lip gap and mouth-corner lift from the judge's own mesh run
  (verify.face_measure.mesh: its own ROI and read-out), over the mouth width;
* eyes open: the less open eye's lid gap over its width;
* eyeglasses: dark-or-bright *line* evidence on the nose bridge: the largest jump of the mean
  row intensity along the bridge between the eyes, over the face's intensity spread;
* head covering: a covering's lower edge is a straight line across the forehead: the largest
  jump of the mean row intensity from above the forehead top down to the brows, over the
  face's intensity spread (the app measures hair texture instead);
* sharpness: the re-blur method (Crete et al. 2007), the share of the face's gradient that a
  further σ 1.5 blur removes, at 64 px inter-eye distance (the app uses the Laplacian);
* exposure: the 95th percentile (too dark) and the clipped share (over-exposed) of the face's
  luminance inside the mesh's convex hull (the mean is reported, not judged);
* lighting: the darker of the two halves of the cascade's face box over the brighter;
* lenses (formats that allow clear glasses): clipped share around the eyes (glare) and the
  eye regions' brightness over the cheeks' (tint).

RULES (below) are the published appearance rules again, written independently of the app; the
bands were measured on the app's outputs of the sample portraits and on the same outputs
degraded (tests/verify/test_judge_quality.py); docs/app.md lists them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: format -> (natural smile allowed, eyeglasses allowed). Sources: travel.state.gov (neutral or
#: natural smile; no eyeglasses since 2016); ICAO Doc 9303 Part 3 (eu), gov.uk and canada.ca:
#: neutral expression, mouth closed; clear glasses with visible eyes only.
APPEARANCE = {
    "us": {"smile_allowed": True, "glasses_allowed": False},
    "eu": {"smile_allowed": False, "glasses_allowed": True},
    "uk": {"smile_allowed": False, "glasses_allowed": True},
    "ca": {"smile_allowed": False, "glasses_allowed": True},
}

IPD = 64.0
# Mesh indices (MediaPipe canonical face mesh), written out here again.
LIPS_INNER = (13, 14)
LIP_CORNERS = (61, 291)
EYES = ((33, 133, 159, 145), (263, 362, 386, 374))  # outer, inner, upper lid, lower lid
BRIDGE_TOP, BRIDGE_LOW = 168, 6
FOREHEAD = 10
CHIN = 152
NOSE = 1
BROW_ENDS = (70, 300)
BROWS = (105, 334)
CHEEKS = (50, 280)

#: Bands (see the module docstring and docs/app.md for the measured values).
MAX_MOUTH_GAP = 0.08
MAX_CORNER_LIFT = 0.06
MIN_LID_GAP = 0.12
MAX_BRIDGE_LINE = 0.2
MAX_BRIM_LINE = 0.165
MAX_LENS_GLARE = 0.05
MIN_EYE_TO_CHEEK = 0.35
MIN_REBLUR = 0.12
#: Under-exposure on the brightest skin (95th percentile), not the mean: a well-exposed dark
#: face has a low mean but bright highlights.
MIN_FACE_P95 = 100.0
MAX_FACE_CLIPPED = 0.05
MIN_HALVES = 0.65
WHITE = 225


@dataclass
class QualityReading:
    values: dict[str, float]
    problems: list[str]


def _dist(points: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(points[a] - points[b]))


def _resized(gray: np.ndarray, x0: int, y0: int, x1: int, y1: int, scale: float) -> np.ndarray:
    h, w = gray.shape
    part = gray[max(0, y0) : max(0, min(h, y1)), max(0, x0) : max(0, min(w, x1))]
    if part.size < 4:
        return np.zeros((2, 2), np.float32)
    return cv2.resize(part, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def read(bgr: np.ndarray, points: np.ndarray, box: tuple[int, int, int, int]) -> dict[str, float]:
    """Every reading for the face whose 468 mesh points (x, y) are ``points``."""
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    mouth_w = max(_dist(points, *LIP_CORNERS), 1e-6)
    lip_mid = (points[LIPS_INNER[0], 1] + points[LIPS_INNER[1], 1]) / 2
    corner_y = (points[LIP_CORNERS[0], 1] + points[LIP_CORNERS[1], 1]) / 2
    lids = [_dist(points, e[2], e[3]) / max(_dist(points, e[0], e[1]), 1e-6) for e in EYES]
    centres = [(points[e[0]] + points[e[1]]) / 2 for e in EYES]
    ipd = max(float(np.linalg.norm(centres[0] - centres[1])), 1.0)
    scale = IPD / ipd

    hull = cv2.convexHull(points.astype(np.int32))
    mask = np.zeros(gray.shape, np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    face = gray[mask.astype(bool)]
    if face.size < 16:
        face = gray.ravel()
    spread = max(float(face.std()), 1.0)

    # Sharpness: the re-blur method (Crete et al. 2007): the share of the gradient a further
    # σ 1.5 blur removes, at 64 px IPD. A sharp face loses much, a blurred one little.
    x0, y0 = points.min(axis=0).astype(int)
    x1, y1 = points.max(axis=0).astype(int)
    small = _resized(gray, x0, y0, x1, y1, scale)

    def gradient(image: np.ndarray) -> float:
        gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3)
        return float(np.hypot(gx, gy).mean())

    sharp = gradient(small)
    reblur = (sharp - gradient(cv2.GaussianBlur(small, (0, 0), 1.5))) / max(sharp, 1e-3)

    # Eyeglasses: along the bridge between the inner eye corners, from the brows to the
    # upper nose, the largest step in the mean row intensity (a frame's bridge is a line).
    inner_l, inner_r = points[EYES[0][1]], points[EYES[1][1]]
    span = inner_r[0] - inner_l[0]
    top = int(points[BRIDGE_TOP, 1] - 0.35 * ipd)
    strip = _resized(
        gray, int(inner_l[0] + 0.25 * span), top, int(inner_r[0] - 0.25 * span),
        int(points[BRIDGE_LOW, 1]), scale,
    )  # fmt: skip
    rows = cv2.GaussianBlur(strip, (3, 3), 0).mean(axis=1)
    bridge = float(np.abs(np.diff(rows, n=1)).max()) / spread if rows.size > 2 else 0.0

    # Head covering: a covering's lower edge runs straight across the forehead, so the mean
    # intensity of the rows from above the forehead top down to the brows jumps at it; a
    # hairline is ragged and the row means change gradually.
    face_h = _dist(points, FOREHEAD, CHIN)
    smooth = cv2.GaussianBlur(gray, (0, 0), 1.5)
    brows = min(points[BROWS[0], 1], points[BROWS[1], 1])
    band = smooth[
        max(0, int(points[FOREHEAD, 1] - 0.12 * face_h)) : max(0, int(brows - 0.01 * face_h)),
        max(0, int(points[BROW_ENDS[0], 0])) : max(0, int(points[BROW_ENDS[1], 0])),
    ]
    row_means = band.mean(axis=1) if band.size else np.zeros(1)
    brim = float(np.abs(np.diff(row_means)).max()) / spread if row_means.size > 2 else 0.0

    # Lighting: the two halves of the cascade's face box (not the mesh: a strong shadow can
    # pull the mesh off the face), its middle 60 % of rows (brows to mouth).
    bx, by, bw, bh = box
    rows_ = slice(max(0, by + int(0.2 * bh)), max(0, by + int(0.8 * bh)))
    halves = [
        gray[rows_, max(0, bx + int(0.1 * bw)) : max(0, bx + bw // 2)],
        gray[rows_, max(0, bx + bw // 2) : max(0, bx + int(0.9 * bw))],
    ]
    means = [float(h.mean()) for h in halves if h.size]

    # Lenses (where glasses are allowed): clipped pixels around the eyes (glare) and the eye
    # regions' brightness against the cheeks (tint).
    half_ipd = ipd / 2
    eye_parts = []
    for centre in centres:
        cx, cy = int(centre[0]), int(centre[1])
        r = max(1, int(0.4 * half_ipd))
        eye_parts.append(
            gray[max(0, cy - r // 2) : max(0, cy + r // 2), max(0, cx - r) : max(0, cx + r)]
        )
    cheeks = [
        gray[max(0, int(p[1] - 0.2 * half_ipd)) : max(0, int(p[1] + 0.2 * half_ipd)),
             max(0, int(p[0] - 0.2 * half_ipd)) : max(0, int(p[0] + 0.2 * half_ipd))]
        for p in (points[CHEEKS[0]], points[CHEEKS[1]])
    ]  # fmt: skip
    cheek = (
        float(np.mean([c.mean() for c in cheeks if c.size])) if any(c.size for c in cheeks) else 1.0
    )
    eyes_mean = float(np.mean([e.mean() for e in eye_parts if e.size])) if eye_parts else cheek
    glare = max((float((e >= 250).mean()) for e in eye_parts if e.size), default=0.0)
    return {
        "mouth_gap": float(_dist(points, *LIPS_INNER) / mouth_w),
        "corner_lift": float((lip_mid - corner_y) / mouth_w),
        "lid_gap": float(min(lids)),
        "bridge_line": bridge,
        "brim_line": brim,
        "reblur": reblur,
        "face_luma": float(face.mean()),
        "face_p95": float(np.percentile(face, 95)),
        "face_clipped": float((face >= 250).mean()),
        "halves": min(means) / max(max(means), 1.0) if len(means) == 2 else 1.0,
        "lens_glare": glare,
        "eye_to_cheek": eyes_mean / max(cheek, 1.0),
    }


def judge(
    bgr: np.ndarray,
    points: np.ndarray,
    box: tuple[int, int, int, int],
    fmt: str,
    declared_covering: bool,
) -> QualityReading:
    """The readings and every appearance/quality rule of ``fmt`` they break."""
    v = read(bgr, points, box)
    rules = APPEARANCE[fmt]
    problems = []
    if not rules["smile_allowed"] and (
        v["mouth_gap"] > MAX_MOUTH_GAP or v["corner_lift"] > MAX_CORNER_LIFT
    ):
        problems.append(
            f"expression not neutral for {fmt} (lip gap {v['mouth_gap']:.2f} ≤ {MAX_MOUTH_GAP}, "
            f"corner lift {v['corner_lift']:.2f} ≤ {MAX_CORNER_LIFT} expected)"
        )
    if v["lid_gap"] < MIN_LID_GAP:
        problems.append(f"an eye is closed (lid gap {v['lid_gap']:.2f} < {MIN_LID_GAP})")
    blurred = v["reblur"] < MIN_REBLUR
    if blurred:
        problems.append(f"the face is blurred (re-blur sharpness {v['reblur']:.3f} < {MIN_REBLUR})")
    if not rules["glasses_allowed"] and not blurred and v["bridge_line"] > MAX_BRIDGE_LINE:
        problems.append(
            f"eyeglasses on a {fmt} photo (bridge line {v['bridge_line']:.2f} > {MAX_BRIDGE_LINE})"
        )
    if rules["glasses_allowed"] and v["lens_glare"] > MAX_LENS_GLARE:
        problems.append(
            f"glare on the eyes or lenses ({v['lens_glare']:.0%} clipped, at most "
            f"{MAX_LENS_GLARE:.0%})"
        )
    if rules["glasses_allowed"] and v["eye_to_cheek"] < MIN_EYE_TO_CHEEK:
        problems.append(
            f"the eyes are darkened as by tinted lenses ({v['eye_to_cheek']:.2f} of the cheeks, "
            f"at least {MIN_EYE_TO_CHEEK})"
        )
    if not declared_covering and v["brim_line"] > MAX_BRIM_LINE:
        problems.append(
            f"a head covering without a declaration (a straight edge across the forehead, "
            f"{v['brim_line']:.2f} > {MAX_BRIM_LINE})"
        )
    if v["face_p95"] < MIN_FACE_P95:
        problems.append(
            f"the face is too dark (its brightest skin {v['face_p95']:.0f} < {MIN_FACE_P95:.0f})"
        )
    if v["face_clipped"] > MAX_FACE_CLIPPED:
        problems.append(
            f"the face is over-exposed ({v['face_clipped']:.0%} clipped, at most "
            f"{MAX_FACE_CLIPPED:.0%})"
        )
    if v["halves"] < MIN_HALVES:
        problems.append(
            f"uneven lighting (darker face half {v['halves']:.0%} of the brighter, at least "
            f"{MIN_HALVES:.0%})"
        )
    return QualityReading({k: round(x, 4) for k, x in v.items()}, problems)
