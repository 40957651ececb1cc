"""Upload bytes -> passport photo: decode, find one face, frame it, whiten the background.

Framing needs the top of the head, which a face detector does not give (hair volume varies by
a third of a face height between people). So the background-removal model first runs on a small
*survey* render (the first estimate's crop plus a margin), the crown is read off that mask, and
the final crop is planned from the measured crown. The model then runs again around the final
crop for the mask that whitens the background; the survey mask is a second opinion there (a
region counts as the person only if both masks agree and it is connected to the face), because
U²-Net is a salient-object model and a flag behind the subject flips in and out of the
foreground with small changes of framing. Two forward passes per photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from .background import BackgroundRemover, composite_on_white
from .errors import ApiError
from .faces import FaceBox, detect_faces
from .formats import CropPlan, PhotoFormat, plan_crop
from .imaging import decode_upload, encode_jpeg

WHITE = (255, 255, 255)
#: Survey region = first crop + this fraction on every side: room for hair taller than estimated.
SURVEY_MARGIN = 0.2
#: A mask row belongs to the head once this share of the face's central columns is foreground.
CROWN_ROW_SHARE = 0.3
SURVEY_SIDE = 320
#: The final mask is computed on the final crop plus this margin: with some context around the
#: person, U²-Net keeps shoulders and drops border objects more reliably (tried 0, 0.1, 0.25).
CONTEXT_MARGIN = 0.25


@dataclass(frozen=True)
class PassportPhoto:
    jpeg: bytes
    face: FaceBox
    crop: CropPlan
    input_size: tuple[int, int]
    crown_measured: bool


def find_single_face(image: Image.Image) -> FaceBox:
    faces = detect_faces(image)
    if not faces:
        raise ApiError(
            422,
            "no_face",
            "no frontal face was found; use a well-lit photo looking straight at the camera",
        )
    if len(faces) > 1:
        raise ApiError(
            422,
            "multiple_faces",
            f"{len(faces)} faces were found; a passport photo must show exactly one person",
        )
    return faces[0]


def render_crop(
    image: Image.Image,
    box: CropPlan,
    size: tuple[int, int],
    fill: int | tuple[int, int, int] | None = WHITE,
) -> Image.Image:
    """Cut ``box`` out of ``image``, scaled to ``size``.

    Where the box runs past the image edges it is filled with ``fill``, or with the nearest edge
    pixels when ``fill`` is None. The model's input uses edge fill: against an artificial white
    frame, background objects at the image border (a flag) read as salient foreground.
    """
    inside = (
        min(max(box.left, 0), image.width - 1),
        min(max(box.top, 0), image.height - 1),
        max(min(box.right, image.width), 1),
        max(min(box.bottom, image.height), 1),
    )
    pads = (
        inside[1] - box.top,  # top
        box.bottom - inside[3],  # bottom
        inside[0] - box.left,  # left
        box.right - inside[2],  # right
    )
    if fill is None:
        if inside[0] >= inside[2] or inside[1] >= inside[3]:
            raise ValueError(f"crop {box} does not overlap the {image.size} image")
        part = np.asarray(image.crop(inside))
        if any(p > 0 for p in pads):
            part = cv2.copyMakeBorder(part, *(max(p, 0) for p in pads), cv2.BORDER_REPLICATE)
        canvas = Image.fromarray(part)
    else:
        canvas = Image.new(image.mode, (box.right - box.left, box.bottom - box.top), fill)
        if inside[0] < inside[2] and inside[1] < inside[3]:
            canvas.paste(image.crop(inside), (inside[0] - box.left, inside[1] - box.top))
    return canvas.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def measure_crown(mask: Image.Image, survey: CropPlan, face: FaceBox) -> float | None:
    """Top of the head in input pixels, read from the survey mask above the face; None if unseen.

    Uses the central half of the face's columns so shoulders and background objects beside the
    head do not count. A head touching the survey's top edge has an unseen crown: None.
    """
    fx = mask.width / (survey.right - survey.left)
    fy = mask.height / (survey.bottom - survey.top)
    col0 = max(0, round((face.x + 0.25 * face.w - survey.left) * fx))
    col1 = min(mask.width, round((face.x + 0.75 * face.w - survey.left) * fx))
    row_end = min(mask.height, round((face.y + 0.25 * face.h - survey.top) * fy))
    if col1 <= col0 or row_end <= 0:
        return None
    band = np.asarray(mask, dtype=np.uint8)[:row_end, col0:col1] >= 128
    rows = np.flatnonzero(band.mean(axis=1) >= CROWN_ROW_SHARE)
    if rows.size == 0 or rows[0] == 0:
        return None
    return survey.top + rows[0] / fy


def survey_size(survey: CropPlan) -> tuple[int, int]:
    """Render size for the survey: the model's 320 px input on the long side, aspect kept."""
    width, height = survey.right - survey.left, survey.bottom - survey.top
    factor = SURVEY_SIDE / max(width, height)
    return max(1, round(width * factor)), max(1, round(height * factor))


def cut_mask(mask: Image.Image, region: CropPlan, plan: CropPlan, size: tuple[int, int]):
    """``mask`` (covering ``region`` of the input) cut to ``plan`` and scaled to ``size``."""
    fx = mask.width / (region.right - region.left)
    fy = mask.height / (region.bottom - region.top)
    box = CropPlan(
        left=round((plan.left - region.left) * fx),
        top=round((plan.top - region.top) * fy),
        right=round((plan.right - region.left) * fx),
        bottom=round((plan.bottom - region.top) * fy),
        scale=plan.scale,
    )
    return render_crop(mask, box, size, fill=0)


def make_passport_photo(data: bytes, fmt: PhotoFormat, remover: BackgroundRemover) -> PassportPhoto:
    image = decode_upload(data)
    face = find_single_face(image)
    first = plan_crop(face, fmt)
    survey = first.expanded(SURVEY_MARGIN)
    survey_mask = remover.mask(render_crop(image, survey, survey_size(survey), fill=None))
    crown = measure_crown(survey_mask, survey, face)
    plan = plan_crop(face, fmt, crown_y=crown)
    size = (fmt.width, fmt.height)
    framed = render_crop(image, plan, size)
    context = plan.expanded(CONTEXT_MARGIN)
    context_size = (
        round(size[0] * (context.right - context.left) / (plan.right - plan.left)),
        round(size[1] * (context.bottom - context.top) / (plan.bottom - plan.top)),
    )
    context_mask = remover.mask(render_crop(image, context, context_size, fill=None))
    mask = cut_mask(context_mask, context, plan, size)
    seed = (
        round((face.x + face.w / 2 - plan.left) * plan.scale),
        round((face.y + face.h / 2 - plan.top) * plan.scale),
    )
    survey_cut = cut_mask(survey_mask, survey, plan, size)
    photo = composite_on_white(framed, mask, seed, second_opinion=survey_cut)
    # A large JPEG was decoded downscaled (imaging.draft_large_jpeg): report input pixels.
    k = image.info.get("decode_scale", 1.0)
    return PassportPhoto(
        jpeg=encode_jpeg(photo),
        face=FaceBox(*(round(v * k) for v in (face.x, face.y, face.w, face.h))),
        crop=plan,
        input_size=(round(image.size[0] * k), round(image.size[1] * k)),
        crown_measured=crown is not None,
    )
