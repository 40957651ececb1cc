"""Passport photo formats and the geometry that places the head inside them.

The Haar box is not the head: it spans roughly eyebrows-to-mouth. The chin is estimated from it
with a fixed anthropometric ratio; the crown (top of the hair) varies too much between people to
guess, so the pipeline measures it from the background-removal mask (``crown_y``) and only falls
back to the ratio when the mask gives no plausible answer. The crop then puts that head height
and crown position where the format's rule wants them, centred horizontally on the face.

Face model (fractions of the Haar box height ``h``, measured from its top edge ``y``):

* chin at ``y + 1.05 h``; fallback crown at ``y - 0.45 h`` (head height ``1.5 h``);
* a measured crown is accepted between ``y - 1.0 h`` and ``y - 0.15 h``.

Formats (head = chin-to-crown; positions as fractions of the output height):

| format | size px | head target (rule) | crown from top | eye line from bottom |
| --- | --- | --- | --- | --- |
| ``us`` 2x2 in @300 dpi | 600x600 | 0.56 (0.50–0.69) | 0.09 | ≈0.60 (0.56–0.69) |
| ``eu`` 35x45 mm | 413x531 | 0.756 = 34 mm (32–36 mm) | 0.09 = 4 mm | ≈0.49 |

"Too small": the crop needs more than ``MAX_UPSCALE`` enlargement to reach the output size.
Beyond 4x the upscaled photo is visibly soft and would be refused by a passport office; in face
terms that is a Haar box under ~56 px (us) or ~67 px (eu).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ApiError
from .faces import FaceBox

CROWN_ABOVE_BOX = 0.45
CHIN_BELOW_BOX_TOP = 1.05
CROWN_ABOVE_BOX_RANGE = (0.15, 1.0)
HEAD_PER_BOX = CROWN_ABOVE_BOX + CHIN_BELOW_BOX_TOP
MAX_UPSCALE = 4.0


@dataclass(frozen=True)
class PhotoFormat:
    name: str
    width: int
    height: int
    description: str
    head_fraction: float  # target chin-to-crown height / output height
    head_range: tuple[float, float]  # the rule's allowed range of that fraction
    crown_margin: float  # output top edge to crown / output height


FORMATS: dict[str, PhotoFormat] = {
    "us": PhotoFormat(
        name="us",
        width=600,
        height=600,
        description="US passport, 2x2 in at 300 dpi",
        head_fraction=0.56,
        head_range=(0.50, 0.69),
        crown_margin=0.09,
    ),
    "eu": PhotoFormat(
        name="eu",
        width=413,
        height=531,
        description="EU/UK passport, 35x45 mm at 300 dpi",
        head_fraction=34 / 45,
        head_range=(32 / 45, 36 / 45),
        crown_margin=4 / 45,
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


def plausible_crown(face: FaceBox, crown_y: float | None) -> float:
    """The measured crown when it is anatomically plausible for ``face``, else the estimate."""
    low, high = CROWN_ABOVE_BOX_RANGE
    if crown_y is not None and face.y - high * face.h <= crown_y <= face.y - low * face.h:
        return crown_y
    return face.y - CROWN_ABOVE_BOX * face.h


def plan_crop(face: FaceBox, fmt: PhotoFormat, crown_y: float | None = None) -> CropPlan:
    """Where to cut so the head lands where ``fmt`` wants it; 422 image_too_small if impossible.

    ``crown_y`` is the measured top of the head in input pixels (None: estimate it).
    """
    crown = plausible_crown(face, crown_y)
    head_px = face.y + CHIN_BELOW_BOX_TOP * face.h - crown
    scale = fmt.head_fraction * fmt.height / head_px
    if scale > MAX_UPSCALE:
        min_box = fmt.head_fraction * fmt.height / (HEAD_PER_BOX * MAX_UPSCALE)
        raise ApiError(
            422,
            "image_too_small",
            f"the face is {face.w}x{face.h} px; the {fmt.name} format needs a face of at least "
            f"{min_box:.0f} px (it would need {scale:.1f}x enlargement, the limit is "
            f"{MAX_UPSCALE:.0f}x) — use a larger or closer photo",
        )
    crop_w = fmt.width / scale
    crop_h = fmt.height / scale
    top = crown - fmt.crown_margin * crop_h
    left = face.x + face.w / 2 - crop_w / 2
    return CropPlan(
        left=round(left),
        top=round(top),
        right=round(left + crop_w),
        bottom=round(top + crop_h),
        scale=scale,
    )
