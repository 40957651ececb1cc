"""Independent inspection of a returned passport photo.

Deliberately not the app's own code: it uses OpenCV's *default* frontal cascade (the app uses
alt2), so a photo only passes when a second, different detector also finds exactly one face,
and measures the head itself (verify.face_measure: crown from pixels, chin and eyes from its own
mesh run) against the published bands of the format (``RULES``, written out again here).
Thresholds are loose enough for JPEG noise and hair, tight enough that an uncropped photo, a
face removed with the background, a head sized from box ratios, a leftover flag beside the
head or a non-white background fails.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from verify.face_measure import BESIDE_MAX, RULES, beside_head_share, measure, mesh
from verify.face_quality import judge as judge_quality

CASCADE_FILE = "haarcascade_frontalface_default.xml"
FORMAT_SIZES = {name: rule["size"] for name, rule in RULES.items()}  # (width, height)
#: Measurement slack (fraction of the height) for the judge's own read-out of the bands.
TOLERANCE = 0.01
#: ISO/IEC 19794-5 (ICAO portrait) allows about ±8° of roll; BlazeFace reads eyes to ~±4° on
#: a 128 px input, so the limit is the standard's own figure.
MAX_ROLL_DEG = 8.0

WHITE_MIN = 225  # every channel at least this to count as "near white"
BORDER_WHITE_SHARE = 0.90  # share of near-white pixels required in the border bands
BAND = 0.04  # top strip height as a fraction of the photo height
CORNER_H, CORNER_W = 0.25, 0.10  # upper-corner patches, as fractions of height and width
FACE_MIN_STD = 12.0  # a face region flatter than this was erased (e.g. whited out)

_local = threading.local()  # CascadeClassifier is not safe to share across threads


def _cascade() -> cv2.CascadeClassifier:
    cascade = getattr(_local, "cascade", None)
    if cascade is None:
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE_FILE)
        if cascade.empty():
            raise RuntimeError(f"cannot load OpenCV cascade {CASCADE_FILE}")
        _local.cascade = cascade
    return cascade


def decode(data: bytes) -> np.ndarray | None:
    """BGR image from encoded bytes, or None when they are not a decodable image."""
    array = np.frombuffer(data, dtype=np.uint8)
    return cv2.imdecode(array, cv2.IMREAD_COLOR) if array.size else None


def detect_faces(image: np.ndarray, min_fraction: float = 0.15) -> list[tuple[int, int, int, int]]:
    """Faces by a different cascade than the app's (alt2), so a shared blind spot cannot make a
    wrong output look right. The project's one independent judge: verify and the app tests."""
    gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    min_side = max(24, int(min_fraction * min(gray.shape)))
    found = _cascade().detectMultiScale(
        gray, scaleFactor=1.1, minNeighbors=6, minSize=(min_side, min_side)
    )
    return [tuple(int(v) for v in box) for box in found]


def near_white_share(region: np.ndarray) -> float:
    if region.size == 0:
        return 0.0
    return float((region.min(axis=2) >= WHITE_MIN).mean())


@dataclass
class PhotoVerdict:
    width: int
    height: int
    faces: list[tuple[int, int, int, int]]
    border_white: dict[str, float]
    face_std: float | None
    problems: list[str] = field(default_factory=list)
    geometry: dict | None = None  # crown/eye/chin rows and the format's bands (report overlays)
    quality: dict | None = None  # the judge's appearance/quality readings (verify.face_quality)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def analyse(data: bytes, fmt: str, declared_covering: bool = False) -> PhotoVerdict:
    """Everything the ml check asserts about one returned photo, as a list of problems.

    ``declared_covering``: the upload declared a religious/medical head covering, which the
    format then allows (the judge still checks everything else).
    """
    image = decode(data)
    if image is None:
        return PhotoVerdict(0, 0, [], {}, None, ["the body is not a decodable image"])
    height, width = image.shape[:2]
    verdict = PhotoVerdict(width, height, [], {}, None)
    want_w, want_h = FORMAT_SIZES[fmt]
    if (width, height) != (want_w, want_h):
        verdict.problems.append(f"size expected {want_w}×{want_h}, got {width}×{height}")

    # Background that is never the subject: a strip along the top (the crown sits ~9% down in
    # both formats) and the two upper corners (hair can touch the sides in the tall EU crop).
    band_y = max(2, int(BAND * height))
    corner_h, corner_w = max(2, int(CORNER_H * height)), max(2, int(CORNER_W * width))
    bands = {
        "top": image[:band_y],
        "top-left": image[:corner_h, :corner_w],
        "top-right": image[:corner_h, width - corner_w :],
    }
    verdict.border_white = {k: round(near_white_share(v), 3) for k, v in bands.items()}
    for side, share in verdict.border_white.items():
        if share < BORDER_WHITE_SHARE:
            verdict.problems.append(
                f"{side} border expected ≥{BORDER_WHITE_SHARE:.0%} near-white pixels, "
                f"got {share:.0%}"
            )

    verdict.faces = detect_faces(image)
    if len(verdict.faces) != 1:
        verdict.problems.append(
            f"independent face detection expected exactly 1 face, found {len(verdict.faces)}"
        )
        return verdict
    x, y, w, h = verdict.faces[0]
    face = cv2.cvtColor(image[y : y + h, x : x + w], cv2.COLOR_BGR2GRAY)
    verdict.face_std = round(float(face.std()), 1)
    if verdict.face_std < FACE_MIN_STD:
        verdict.problems.append(
            f"face region expected visible detail (std ≥ {FACE_MIN_STD}), got {verdict.face_std}"
        )
    centre_x = (x + w / 2) / width
    if abs(centre_x - 0.5) > 0.15:
        verdict.problems.append(f"face expected centred horizontally, centre at {centre_x:.0%}")
    if not 0.2 <= h / height <= 0.75:
        verdict.problems.append(
            f"face height expected 20–75% of the photo (head sized for the format), "
            f"got {h / height:.0%}"
        )
    judge_geometry(image, verdict.faces[0], fmt, verdict)
    judge_appearance(image, verdict.faces[0], fmt, declared_covering, verdict)
    return verdict


def judge_appearance(
    image: np.ndarray, box, fmt: str, declared_covering: bool, verdict: PhotoVerdict
) -> None:
    """Expression, eyes, eyewear, head covering, sharpness, exposure, lighting (face_quality)."""
    points = mesh(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), box)
    if points is None:
        return  # judge_geometry has already said the mesh found no face
    reading = judge_quality(image, points, box, fmt, declared_covering)
    verdict.quality = reading.values
    verdict.problems.extend(reading.problems)


def judge_geometry(image: np.ndarray, box, fmt: str, verdict: PhotoVerdict) -> None:
    """Head %, eye line, centring, roll, crown/chin in frame, nothing beside the head."""
    height, width = image.shape[:2]
    rule = RULES[fmt]
    m = measure(image, box)
    if m is None:
        verdict.problems.append("the judge's face mesh / BlazeFace found no face in the photo")
        return
    head = (m.chin - m.crown) / height
    eyes = 1 - m.eye / height
    beside = beside_head_share(image, m)
    verdict.geometry = {
        "crown": round(m.crown / height, 4),
        "eye": round(m.eye / height, 4),
        "chin": round(m.chin / height, 4),
        "head": round(head, 4),
        "eyes_from_bottom": round(eyes, 4),
        "centre_x": round(m.centre_x / width, 4),
        "roll_deg": round(m.roll_deg, 1),
        "beside_head": round(beside, 4),
        "bands": {"head": list(rule["head"]), "eyes_from_bottom": rule["eyes"]},
    }
    low, high = rule["head"]
    if not low - TOLERANCE <= head <= high + TOLERANCE:
        verdict.problems.append(
            f"head (chin to crown) expected {low:.0%}–{high:.0%} of the height, got {head:.1%}"
        )
    if rule["eyes"] is not None:
        low, high = rule["eyes"]
        if not low - TOLERANCE <= eyes <= high + TOLERANCE:
            verdict.problems.append(
                f"eye line expected {low:.1%}–{high:.1%} from the bottom, got {eyes:.1%}"
            )
    if abs(m.centre_x / width - 0.5) > 0.05:
        verdict.problems.append(f"face expected centred, eye midpoint at {m.centre_x / width:.0%}")
    if abs(m.roll_deg) > MAX_ROLL_DEG:
        verdict.problems.append(f"head roll expected ≤ {MAX_ROLL_DEG}°, got {m.roll_deg:.1f}°")
    if m.crown < 0.005 * height:
        verdict.problems.append("the crown touches the top edge (head cut off)")
    if m.chin > 0.995 * height:
        verdict.problems.append("the chin is outside the photo")
    if abs(m.mesh_eye - m.eye) > 0.03 * height:
        verdict.problems.append(
            f"the judge's two landmark sources disagree on the eye line ({m.mesh_eye:.0f} vs "
            f"{m.eye:.0f} px): measurement not trusted"
        )
    if not 0.85 <= m.chin_in_box <= 1.45:
        verdict.problems.append(
            f"the mesh's chin disagrees with the independent face box ({m.chin_in_box:.2f} "
            "box heights below its top)"
        )
    if beside > BESIDE_MAX:
        verdict.problems.append(
            f"background left beside the head: {beside:.1%} of the area beside the face is not "
            f"white (at most {BESIDE_MAX:.1%})"
        )
