"""Passport photo formats (data, with their official sources) and the crop that fits one.

Each format is one entry in ``FORMATS``: print size, the head-height rule (chin to crown, i.e. the
top of the head including hair) and, where the authority states one, the eye-line band, all in
millimetres as published, with the source cited. Adding a country is one entry.

Framing works from measured points, not box ratios (see landmarks.py and pipeline.py): the chin
and eye line come from the face mesh, the crown from a person mask. ``plan_crop`` scales the head
to the middle of the format's rule and places it: by the eye line when the rule has one (US),
else with the crown a fixed margin below the top edge. The outcome is measured again after
compositing and refused if it is out of the rule (pipeline.py); nothing here is trusted blindly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .errors import ApiError, excerpt

#: Beyond 4x the upscaled photo is visibly soft and would be refused by a passport office.
MAX_UPSCALE = 4.0
#: Output pixels per millimetre at 300 dpi.
PX_PER_MM = 300 / 25.4
#: Never put the crown closer than this (fraction of the height) to the top edge.
MIN_CROWN_MARGIN = 0.03
INCH = 25.4


#: ``Appearance.expression`` values.
NATURAL_SMILE_ALLOWED = "neutral_or_natural_smile"
MOUTH_CLOSED = "neutral_mouth_closed"
#: ``Appearance.eyeglasses`` values.
NO_EYEGLASSES = "not_allowed"
CLEAR_EYEGLASSES = "allowed_if_eyes_visible"  # never tinted, never with glare
#: Head coverings a request may declare (``head_covering`` form field).
DECLARED_COVERINGS = ("religious", "medical")


@dataclass(frozen=True)
class Appearance:
    """What the face must look like for a format, beyond geometry, each rule with its source."""

    expression: str  # NATURAL_SMILE_ALLOWED | MOUTH_CLOSED
    eyeglasses: str  # NO_EYEGLASSES | CLEAR_EYEGLASSES
    #: Head coverings: never, except a declared religious or medical one that leaves the face
    #: from hairline to chin and both face edges visible; the statement the applicant must add.
    covering_statement: dict[str, str]
    sources: dict[str, str]  # rule -> the official page it is taken from

    def rules(self) -> dict[str, str]:
        """What X-Passport-Compliance reports as the format's appearance rules."""
        return {
            "expression": self.expression,
            "eyeglasses": self.eyeglasses,
            "head_covering": "declared_" + "_or_".join(DECLARED_COVERINGS) + "_only",
        }


ICAO_9303_P3 = "https://www.icao.int/publications/Documents/9303_p3_cons_en.pdf"
US_PHOTOS = "https://travel.state.gov/content/travel/en/passports/how-apply/photos.html"
UK_PHOTOS = "https://www.gov.uk/photos-for-passports"
CA_PHOTOS = (
    "https://www.canada.ca/en/immigration-refugees-citizenship/services/"
    "canadian-passports/photos.html"
)

# ICAO Doc 9303 Part 3 (and ISO/IEC 19794-5 / 39794-5, which it follows): neutral expression,
# both eyes open, mouth closed; glasses only if the eyes are clearly visible, no tinted lenses,
# no glare, frames not across the eyes; head coverings only for religious (or medical) reasons
# with the face from the bottom of the chin to the top of the forehead and both edges visible.
NEUTRAL_MOUTH_CLOSED = Appearance(
    expression=MOUTH_CLOSED,
    eyeglasses=CLEAR_EYEGLASSES,
    covering_statement={
        "religious": (
            "a declaration that the head covering is worn for religious reasons, when the "
            "issuing office asks for one"
        ),
        "medical": (
            "a declaration (a doctor's note) that the head covering is worn for medical "
            "reasons, when the issuing office asks for one"
        ),
    },
    sources={"expression": ICAO_9303_P3, "eyeglasses": ICAO_9303_P3, "head_covering": ICAO_9303_P3},
)


@dataclass(frozen=True)
class PhotoFormat:
    name: str
    width: int  # output pixels (300 dpi)
    height: int
    description: str
    width_mm: float
    height_mm: float
    head_mm: tuple[float, float]  # chin to crown, the rule's range
    crown_margin: float  # top edge to crown / height, used when there is no eye rule
    source: str  # the official page / document the figures come from
    eyes_mm: tuple[float, float] | None = None  # eye line above the bottom edge, if ruled
    appearance: Appearance = field(default_factory=lambda: NEUTRAL_MOUTH_CLOSED)

    @property
    def head_range(self) -> tuple[float, float]:
        """The rule's head height as fractions of the photo height."""
        return self.head_mm[0] / self.height_mm, self.head_mm[1] / self.height_mm

    @property
    def head_fraction(self) -> float:
        """The target: the middle of the rule, as far from both limits as possible."""
        low, high = self.head_range
        return (low + high) / 2

    @property
    def eye_range(self) -> tuple[float, float] | None:
        """The eye-line band as fractions of the height measured from the bottom edge."""
        if self.eyes_mm is None:
            return None
        return self.eyes_mm[0] / self.height_mm, self.eyes_mm[1] / self.height_mm

    def bands(self) -> dict[str, list[float]]:
        """What X-Passport-Compliance and the verify report show as the format's bands."""
        out = {"head": [round(v, 4) for v in self.head_range]}
        if self.eye_range is not None:
            out["eyes_from_bottom"] = [round(v, 4) for v in self.eye_range]
        return out


def _px(mm: float) -> int:
    return round(mm * PX_PER_MM)


FORMATS: dict[str, PhotoFormat] = {
    # travel.state.gov "Photo Requirements" / "Photo Composition Template": 2x2 in; head 1 to
    # 1 3/8 in from the bottom of the chin to the top of the head (hair included); eye height
    # 1 1/8 to 1 3/8 in from the bottom of the photo. 600x600 px is the State Dept's digital size.
    "us": PhotoFormat(
        name="us",
        width=600,
        height=600,
        description="US passport, 2x2 in at 300 dpi",
        width_mm=2 * INCH,
        height_mm=2 * INCH,
        head_mm=(1 * INCH, 1.375 * INCH),
        eyes_mm=(1.125 * INCH, 1.375 * INCH),
        crown_margin=0.09,
        source=US_PHOTOS,
        # travel.state.gov "Photo Requirements": "a neutral facial expression or a natural
        # smile, with both eyes open"; eyeglasses not allowed since 1 Nov 2016 (only with a
        # doctor's signed statement, not offered here); hats and head coverings only for
        # religious or medical reasons with a signed statement, never obscuring the hairline
        # or casting shadows on the face.
        appearance=Appearance(
            expression=NATURAL_SMILE_ALLOWED,
            eyeglasses=NO_EYEGLASSES,
            covering_statement={
                "religious": (
                    "a signed statement that the head covering in the photo is part of "
                    "recognized, traditional religious attire worn continuously in public"
                ),
                "medical": (
                    "a signed doctor's statement that the head covering in the photo is used "
                    "daily for medical purposes"
                ),
            },
            sources={"expression": US_PHOTOS, "eyeglasses": US_PHOTOS, "head_covering": US_PHOTOS},
        ),
    ),
    # ICAO Doc 9303 Part 3 (portrait guidance, after ISO/IEC 19794-5) as applied in the Schengen
    # area / EU: 35x45 mm; chin to crown 70-80 % of the photo height = 32-36 mm.
    "eu": PhotoFormat(
        name="eu",
        width=_px(35),
        height=_px(45),
        description="ICAO / Schengen passport, 35x45 mm at 300 dpi",
        width_mm=35,
        height_mm=45,
        head_mm=(32, 36),
        crown_margin=4 / 45,
        source=ICAO_9303_P3,
        appearance=NEUTRAL_MOUTH_CLOSED,
    ),
    # gov.uk "Photos for passports": 45 mm high by 35 mm wide; the head from the crown to the
    # chin between 29 mm and 34 mm high.
    "uk": PhotoFormat(
        name="uk",
        width=_px(35),
        height=_px(45),
        description="UK passport, 35x45 mm at 300 dpi",
        width_mm=35,
        height_mm=45,
        head_mm=(29, 34),
        crown_margin=5 / 45,
        source=UK_PHOTOS,
        # gov.uk "Photos for passports": a plain expression with the mouth closed; no
        # sunglasses or tinted glasses, other glasses only without glare or reflection with the
        # eyes visible; no head covering unless for religious or medical reasons.
        appearance=replace(
            NEUTRAL_MOUTH_CLOSED,
            sources={"expression": UK_PHOTOS, "eyeglasses": UK_PHOTOS, "head_covering": UK_PHOTOS},
        ),
    ),
    # canada.ca "Passport photos": 50 mm wide x 70 mm high; face height between 31 mm and
    # 36 mm from chin to crown of head (natural top of head).
    "ca": PhotoFormat(
        name="ca",
        width=_px(50),
        height=_px(70),
        description="Canadian passport, 50x70 mm at 300 dpi",
        width_mm=50,
        height_mm=70,
        head_mm=(31, 36),
        crown_margin=0.16,
        source=CA_PHOTOS,
        # canada.ca "Passport photos": a neutral facial expression (eyes open, mouth closed, no
        # smiling); glasses only if the eyes are clearly visible with no glare, never tinted;
        # hats and head coverings only if worn daily for religious or medical reasons, the full
        # face clearly visible and no shadows on it.
        appearance=replace(
            NEUTRAL_MOUTH_CLOSED,
            sources={"expression": CA_PHOTOS, "eyeglasses": CA_PHOTOS, "head_covering": CA_PHOTOS},
        ),
    ),
}
DEFAULT_FORMAT = "us"


def parse_format(value: str | None) -> PhotoFormat:
    """The format for a request's ``format`` value (default us), or 400 invalid_format."""
    name = (value or DEFAULT_FORMAT).strip().lower() or DEFAULT_FORMAT
    try:
        return FORMATS[name]
    except KeyError:
        raise ApiError(
            400,
            "invalid_format",
            f"format {value!r} is not supported; allowed: {', '.join(sorted(FORMATS))}",
        ) from None


@dataclass(frozen=True)
class HeadGeometry:
    """Measured head points in (levelled) input pixels."""

    crown_y: float
    eye_y: float
    chin_y: float
    centre_x: float

    @property
    def head_px(self) -> float:
        return self.chin_y - self.crown_y


@dataclass(frozen=True)
class CropPlan:
    """The input-image rectangle that becomes the output photo, and its enlargement."""

    left: int
    top: int
    right: int
    bottom: int
    scale: float  # output px per input px

    def expanded(self, margin: float) -> CropPlan:
        """The same centre with ``margin`` of the width/height added on every side."""
        dx = round((self.right - self.left) * margin)
        dy = round((self.bottom - self.top) * margin)
        return CropPlan(
            self.left - dx, self.top - dy, self.right + dx, self.bottom + dy, self.scale
        )


def plan_crop(head: HeadGeometry, fmt: PhotoFormat) -> CropPlan:
    """Where to cut so the head lands where ``fmt`` wants it; 422 image_too_small if impossible."""
    if head.head_px <= 0:
        raise ValueError(f"chin above crown: {head}")
    scale = fmt.head_fraction * fmt.height / head.head_px
    if scale > MAX_UPSCALE:
        raise ApiError(
            422,
            "image_too_small",
            f"the head is {head.head_px:.0f} px tall; the {fmt.name} format needs at least "
            f"{fmt.head_fraction * fmt.height / MAX_UPSCALE:.0f} px (it would need "
            f"{scale:.1f}x enlargement, the limit is {MAX_UPSCALE:.0f}x) — use a larger or "
            "closer photo",
        )
    crop_w = fmt.width / scale
    crop_h = fmt.height / scale
    if fmt.eye_range is not None:
        eye_from_bottom = sum(fmt.eye_range) / 2
        top = head.eye_y - (1 - eye_from_bottom) * crop_h
        top = min(top, head.crown_y - MIN_CROWN_MARGIN * crop_h)
    else:
        top = head.crown_y - fmt.crown_margin * crop_h
    left = head.centre_x - crop_w / 2
    return CropPlan(
        left=round(left),
        top=round(top),
        right=round(left + crop_w),
        bottom=round(top + crop_h),
        scale=scale,
    )


def parse_head_covering(value: str | None) -> str | None:
    """A declared head covering (``religious`` | ``medical``), None when not declared; 400 else."""
    name = (value or "").strip().lower()
    if not name:
        return None
    if name not in DECLARED_COVERINGS:
        raise ApiError(
            400,
            "invalid_head_covering",
            f"head_covering {excerpt(value or '')!r} is not supported; allowed: "
            f"{', '.join(DECLARED_COVERINGS)} (or leave it out)",
        )
    return name
