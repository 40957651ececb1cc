"""Quality components judged against a format's rules: every reason a photo fails, in order.

The bands were calibrated on the sample portraits in test_images/ and their degraded variants
(Gaussian blur σ 1.5 and 3 px, brightness ×0.3 and ×2.2, the left half ×0.35), measured with
quality.py; docs/app.md lists each component with its rule, source, measured values and band.
A band sits between the worst value measured on the good photos and the best on the faulty
ones, with the margin said beside it.

Eyewear and head-covering readings are texture measurements: on a blurred face they are not
trusted and not judged (the photo is refused as ``blurry`` anyway).
"""

from __future__ import annotations

from dataclasses import dataclass

from .formats import CLEAR_EYEGLASSES, MOUTH_CLOSED, NO_EYEGLASSES, PhotoFormat

#: Most important first: the top-level code of a 422 is the first reason found.
ORDER = (
    "head_turned",
    "head_tilted",
    "face_at_edge",
    "image_too_small",
    "eyes_closed",
    "mouth_open",
    "expression_not_neutral",
    "eyeglasses",
    "tinted_glasses",
    "glare_on_glasses",
    "head_covering",
    "blurry",
    "too_dark",
    "overexposed",
    "uneven_lighting",
    "low_contrast",
)

#: Bands: (low, high) that pass; None = unbounded on that side. Values measured (see docs).
#: Closed mouths read 0.006–0.035, the astronaut's smile 0.137–0.199: 0.08 between.
MAX_MOUTH_CLOSED = 0.08
#: Flat mouths read -0.0–0.019 corner lift, the smile 0.098–0.135: 0.06 between.
MAX_SMILE = 0.06
#: Open eyes read 0.235–0.378 (less open eye); a closed lid < 0.1.
MIN_EYES_OPEN = 0.12
#: Nose-bridge edge / face spread: no glasses 0.36–0.54, Grace Hopper's frames 1.63–3.43.
MAX_EYEGLASSES = 1.0
#: Clipped share around the eyes: 0–0.003 on the portraits; lens reflections are white spots.
MAX_EYE_GLARE = 0.05
#: Eye region / cheek brightness: 0.57–0.69 with clear or no lenses; tinted lenses halve it.
MIN_EYE_TINT = 0.35
#: Hair texture / face texture above the forehead: hair 1.27–1.46, the uniform cap 0.58–0.71
#: (blurred σ 1.5: hair 0.82–0.97, cap 0.92–1.04; a blurred face is not judged on it).
MIN_HAIR_TEXTURE = 0.95
#: Straight edge across the forehead: hairlines 0.05–0.28, the cap's brim 0.75–0.83. A head
#: covering is found only when both readings say so (smooth above *and* a straight edge), so
#: short smooth hair with a clean hairline is not taken for a hat.
MAX_COVERING_EDGE = 0.5
#: Declared covering: forehead top and face edges vs cheeks: 0.61–0.72 uncovered (skin, hair
#: fringe); fabric over them reads far darker or lighter (a dark cap brim 0.1).
MIN_FACE_VISIBLE = 0.4
#: Laplacian / intensity spread at 64 px IPD: sharp 0.26–0.78, σ 3 px blur 0.05–0.09,
#: σ 1.5 px 0.08–0.21: 0.15 refuses every σ 3 blur and most σ 1.5.
MIN_SHARPNESS = 0.15
#: 95th percentile of face luminance: well exposed 196–220, ×0.3 60–65. The mean (137–163
#: well exposed, 40–49 at ×0.3) is reported but not judged: a well-exposed dark-skinned face
#: has a low mean but still bright highlights.
MIN_HIGHLIGHTS = 100.0
#: Share of clipped face pixels: 0–0.001 well exposed, 0.48–0.75 over-exposed.
MAX_CLIPPED = 0.05
#: 5th–95th percentile of face luminance: 137–177 well exposed, 45–51 at ×0.3 (set low, at
#: 60, so low-contrast skin under soft light passes).
MIN_DYNAMIC_RANGE = 60.0
#: Darker / brighter face half: 0.78–0.99 (the astronaut is lit from one side), 0.35–0.45
#: with one half at ×0.35.
MIN_UNIFORMITY = 0.6


@dataclass(frozen=True)
class Reason:
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def bands(fmt: PhotoFormat, declared: str | None) -> dict[str, list[float | None]]:
    """The pass band of every component judged for ``fmt`` (what the header reports)."""
    out: dict[str, list[float | None]] = {
        "eyes_open": [MIN_EYES_OPEN, None],
        "sharpness": [MIN_SHARPNESS, None],
        "highlights": [MIN_HIGHLIGHTS, None],
        "clipped": [None, MAX_CLIPPED],
        "dynamic_range": [MIN_DYNAMIC_RANGE, None],
        "uniformity": [MIN_UNIFORMITY, None],
    }
    if fmt.appearance.expression == MOUTH_CLOSED:
        out["mouth_open"] = [None, MAX_MOUTH_CLOSED]
        out["smile"] = [None, MAX_SMILE]
    if fmt.appearance.eyeglasses == NO_EYEGLASSES:
        out["eyeglasses"] = [None, MAX_EYEGLASSES]
    elif fmt.appearance.eyeglasses == CLEAR_EYEGLASSES:
        out["eye_glare"] = [None, MAX_EYE_GLARE]
        out["eye_tint"] = [MIN_EYE_TINT, None]
    if declared is None:
        out["head_covering"] = [MIN_HAIR_TEXTURE, None]
        out["covering_edge"] = [None, MAX_COVERING_EDGE]
    else:
        out["face_visible"] = [MIN_FACE_VISIBLE, None]
    return out


def _inside(value: float, band: list[float | None]) -> bool:
    low, high = band
    return (low is None or value >= low) and (high is None or value <= high)


#: Component -> (code when out of band, message); {v} is the value, {b} the band.
_FAULTS = {
    "mouth_open": (
        "expression_not_neutral",
        "the mouth is open or the teeth show (lip gap {v:.2f} of the mouth width, at most {hi}); "
        "this format needs a neutral expression with the mouth closed",
    ),
    "smile": (
        "expression_not_neutral",
        "the face is smiling (mouth corners raised {v:.2f} of the mouth width, at most {hi}); "
        "this format needs a neutral expression",
    ),
    "eyes_open": (
        "eyes_closed",
        "an eye looks closed (lid gap {v:.2f} of the eye width, at least {lo}); keep both eyes "
        "open",
    ),
    "eyeglasses": (
        "eyeglasses",
        "eyeglasses were found (frame edge {v:.2f}, at most {hi}); this format does not allow "
        "glasses: take them off",
    ),
    "eye_glare": (
        "glare_on_glasses",
        "there is glare on the eyes or glasses ({v:.1%} of the eye area clipped, at most {hi}); "
        "tilt the glasses or change the light",
    ),
    "eye_tint": (
        "tinted_glasses",
        "the eyes are darkened as by tinted lenses ({v:.2f} of the cheek brightness, at least "
        "{lo}); tinted glasses are not allowed",
    ),
    "head_covering": (
        "head_covering",
        "a hat or head covering was found (smooth material above the forehead: texture {v:.2f}, "
        "hair reads at least {lo}, with a straight edge across the forehead); remove it, or "
        "declare a religious or medical covering (head_covering=religious|medical)",
    ),
    "covering_edge": (
        "head_covering",
        "a hat or head covering was found (a straight edge across the forehead: {v:.2f}, at "
        "most {hi}); remove it, or declare a religious or medical covering",
    ),
    "face_visible": (
        "head_covering",
        "the head covering hides part of the face ({v:.2f}, at least {lo}); the face from the "
        "hairline to the chin and both face edges must stay visible",
    ),
    "sharpness": (
        "blurry",
        "the face is blurred (sharpness {v:.2f}, at least {lo}); hold the camera still and focus "
        "on the face",
    ),
    "highlights": (
        "too_dark",
        "the face is too dark (its brightest skin reads {v:.0f} of 255, at least {lo:.0f}); use "
        "more light",
    ),
    "clipped": (
        "overexposed",
        "the face is over-exposed ({v:.0%} of it is pure white, at most {hi:.0%}); use less "
        "light or exposure",
    ),
    "dynamic_range": (
        "low_contrast",
        "the face has too little contrast (luminance range {v:.0f}, at least {lo:.0f}); use "
        "brighter, even light",
    ),
    "uniformity": (
        "uneven_lighting",
        "one side of the face is much darker (darker half {v:.0%} of the brighter, at least "
        "{lo:.0%}); light the face evenly from the front",
    ),
}

#: Not judged on a blurred face (texture measurements).
TEXTURE_COMPONENTS = ("eyeglasses", "head_covering", "covering_edge")


#: Readings judged only together: a fault needs the partner out of its band as well.
PARTNERS = {"head_covering": "covering_edge", "covering_edge": "head_covering"}


def judge(
    components: dict[str, float], fmt: PhotoFormat, declared: str | None
) -> tuple[dict[str, dict], list[Reason]]:
    """Value, band and verdict per component; the reasons it fails, most important first."""
    report: dict[str, dict] = {}
    reasons: list[Reason] = []
    blurry = components["sharpness"] < MIN_SHARPNESS
    judged = bands(fmt, declared)
    for name, band in judged.items():
        value = components[name]
        ok = _inside(value, band)
        partner = PARTNERS.get(name)
        if partner in judged and _inside(components[partner], judged[partner]):
            ok = True  # one of the pair says "no covering"
        skipped = blurry and name in TEXTURE_COMPONENTS
        report[name] = {
            "value": round(value, 4),
            "band": band,
            "ok": ok or skipped,
            **({"judged": False} if skipped else {}),
        }
        if ok or skipped:
            continue
        code, template = _FAULTS[name]
        reasons.append(Reason(code, template.format(v=value, lo=band[0], hi=band[1])))
    for name, value in components.items():  # measured but not a rule of this format
        report.setdefault(name, {"value": round(value, 4), "band": None, "judged": False})
    return report, ordered(reasons)


def ordered(reasons: list[Reason]) -> list[Reason]:
    """One reason per code (the first), most important first."""
    seen: dict[str, Reason] = {}
    for reason in reasons:
        seen.setdefault(reason.code, reason)
    rank = {code: i for i, code in enumerate(ORDER)}
    return sorted(seen.values(), key=lambda r: rank.get(r.code, len(ORDER)))
