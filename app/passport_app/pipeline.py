"""Upload bytes -> passport photo: decode, find one face, check the pose, frame it, whiten it.

1. One face by OpenCV Haar (faces.py, on a downscaled copy); the 468-point face mesh on it
   (landmarks.py) gives chin, eyes, mouth, eyelids and head pose.
2. Refuse what cannot be fixed (422 with a specific code): head turned, mouth open, eyes closed,
   head tilted beyond levelling, face at the edge of the original, face too small.
3. Level a rolled head (rotate about the eye midpoint), measure the crown from the selfie
   person mask (a few ms), plan the crop for the format (formats.py).
4. One U²-Net pass on the crop plus context; the selfie mask is the second opinion (a region
   counts as the person only if both agree and it touches the face), because U²-Net is a
   salient-object model and keeps a flag behind the subject.
5. Self-check the result: head %, eye line and roll re-measured in output pixels against the
   format's bands, and leftover non-white blobs beside the head; out of spec is refused, never
   returned with 200.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from . import blazeface, compliance, quality
from .background import BackgroundRemover, refine_alpha
from .compliance import Reason
from .errors import ApiError
from .faces import FaceBox, detect_faces
from .formats import CropPlan, HeadGeometry, PhotoFormat, plan_crop
from .imaging import decode_upload, encode_jpeg
from .landmarks import Landmarks, find_landmarks, person_mask

WHITE = (255, 255, 255)
#: The U²-Net mask is computed on the final crop plus this margin: with some context around the
#: person, U²-Net keeps shoulders and drops border objects more reliably (tried 0, 0.1, 0.25).
CONTEXT_MARGIN = 0.25
#: Alpha at which a composited pixel is visibly not white (about 225 of 255 over white).
VISIBLE_ALPHA = 0.15
#: Re-plan when the matte's crown is this far (fraction of the height) from the planned one.
REPLAN_FROM = 0.01
#: Long side of the context render the masks are computed on (U²-Net's input is 320x320).
MODEL_RENDER_SIDE = 384
#: Pose limits. ISO/IEC 19794-5 (ICAO's portrait standard) allows about ±5° yaw; the mesh's
#: depth estimate reads 0–2° on frontal portraits, so 8° leaves room for its noise.
MAX_YAW_DEG = 8.0
#: Inner-lip gap / mouth width: closed ≈ 0.02, a broad smile showing teeth ≈ 0.17 (the US allows
#: a natural smile), talking or yawning well above 0.3.
MAX_MOUTH_OPEN = 0.3
#: Lid gap / eye width: open ≈ 0.25–0.37, closed < 0.1.
MIN_EYE_OPEN = 0.12
#: Rolled heads are levelled up to this; beyond it the person was not upright for the photo.
MAX_ROLL_DEG = 20.0
#: Levelling is skipped below this (a resample for nothing).
LEVEL_FROM_DEG = 1.0
#: Selfie mask: a row belongs to the head once this share of the central columns is person.
CROWN_ROW_SHARE = 0.3
#: Leftover background: a non-white blob kept where the person model sees background, larger
#: than this share of the photo, is a failed background removal.
MAX_LEFTOVER_SHARE = 0.004
#: The crop may run this far (fraction of its height) past the original's bottom edge before
#: the shoulders would have to be invented.
MAX_BOTTOM_PAD = 0.03


@dataclass(frozen=True)
class PassportPhoto:
    jpeg: bytes
    face: FaceBox
    crop: CropPlan
    input_size: tuple[int, int]
    crown_measured: bool
    compliance: dict = field(default_factory=dict)
    statement: str | None = None  # what the applicant must add for a declared head covering

    def compliance_header(self) -> str:
        return json.dumps(self.compliance, separators=(",", ":"), sort_keys=True)


def find_single_face(image: Image.Image, models: Path | None = None) -> FaceBox:
    """Exactly one face: by the Haar gate, else (when it sees none) by BlazeFace.

    A face the cascade misses (at the edge, half-shadowed, over-exposed) is found by the second
    detector, so the photo is refused for what is really wrong, never as ``no_face``.
    """
    faces = detect_faces(image)
    if not faces and models is not None:
        faces = [FaceBox(*box) for box in blazeface.detect(np.asarray(image), models)]
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
    resample: Image.Resampling = Image.Resampling.LANCZOS,
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
    if resample == Image.Resampling.LANCZOS:
        return canvas.resize(size, resample, reducing_gap=3.0)
    return canvas.resize(size, resample)


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
    # Masks are smooth (U²-Net's is 320 px upsampled): bilinear is enough and ~5x cheaper.
    return render_crop(mask, box, size, fill=0, resample=Image.Resampling.BILINEAR)


def pose_reasons(lm: Landmarks) -> list[Reason]:
    """What no crop can fix: turned head, strong tilt, mouth wide open, closed eyes."""
    reasons = []
    if abs(lm.yaw_deg) > MAX_YAW_DEG:
        reasons.append(
            Reason(
                "head_turned",
                f"the head is turned about {abs(lm.yaw_deg):.0f}° (at most {MAX_YAW_DEG:.0f}° "
                "allowed); face the camera squarely",
            )
        )
    if abs(lm.roll_deg) > MAX_ROLL_DEG:
        reasons.append(
            Reason(
                "head_tilted",
                f"the head is tilted {abs(lm.roll_deg):.0f}° (up to {MAX_ROLL_DEG:.0f}° is "
                "levelled); hold the head upright",
            )
        )
    if lm.mouth_open > MAX_MOUTH_OPEN:
        reasons.append(
            Reason(
                "mouth_open",
                f"the mouth is open (lip gap {lm.mouth_open:.2f} of the mouth width, at most "
                f"{MAX_MOUTH_OPEN}); use a neutral expression with the mouth closed",
            )
        )
    if lm.eye_openness < MIN_EYE_OPEN:
        reasons.append(
            Reason(
                "eyes_closed",
                f"the eyes look closed (lid gap {lm.eye_openness:.2f} of the eye width, at least "
                f"{MIN_EYE_OPEN} needed); keep both eyes open",
            )
        )
    return reasons


def refuse(reasons: list[Reason]) -> None:
    """422 naming every reason, the most important one as the top-level code; no-op if none."""
    reasons = compliance.ordered(reasons)
    if reasons:
        raise ApiError(
            422,
            reasons[0].code,
            reasons[0].message,
            reasons=[r.to_dict() for r in reasons],
        )


def check_pose(lm: Landmarks) -> None:
    """422 for what no crop can fix: turned head, open mouth, closed eyes, strong tilt."""
    refuse(pose_reasons(lm))


def landmarks_for(rgb: np.ndarray, box: tuple[int, int, int, int], models) -> Landmarks:
    lm = find_landmarks(rgb, box, models)
    if lm is None:
        raise ApiError(
            422,
            "no_face",
            "a face-like region was found but no face could be measured in it; use a clear, "
            "frontal photo",
        )
    return lm


def level(rgb: np.ndarray, lm: Landmarks, models) -> tuple[np.ndarray, Landmarks]:
    """Rotate the photo about the eye midpoint so the eye line is horizontal; re-mesh."""
    if abs(lm.roll_deg) < LEVEL_FROM_DEG:
        return rgb, lm
    centre = tuple(float(v) for v in lm.eye_mid)
    matrix = cv2.getRotationMatrix2D(centre, lm.roll_deg, 1.0)
    upright = cv2.warpAffine(
        rgb,
        matrix,
        (rgb.shape[1], rgb.shape[0]),
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REPLICATE,
    )
    pts = lm.points[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    low, high = pts.min(axis=0), pts.max(axis=0)
    box = (int(low[0]), int(low[1]), int(high[0] - low[0]), int(high[1] - low[1]))
    return upright, landmarks_for(upright, box, models)


def measure_crown(rgb: np.ndarray, lm: Landmarks, models) -> float | None:
    """Top of the head (hair included) from the selfie person mask; None if it is not seen.

    The mask is computed on a square around the face (white where it leaves the photo, so a
    head cut by the top edge shows as touching it) and read in the face's central columns, so
    shoulders and things beside the head do not count. A head touching the top of the original
    is refused (face_at_edge).
    """
    face_h = lm.face_height
    side = 3.2 * face_h
    cx, cy = float(lm.eye_mid[0]), float(lm.eye_mid[1])
    region = CropPlan(
        round(cx - side / 2),
        round(cy - 0.55 * side),
        round(cx + side / 2),
        round(cy + 0.45 * side),
        1,
    )
    render = render_crop(Image.fromarray(rgb), region, (256, 256), fill=WHITE)
    mask = person_mask(np.asarray(render), models)
    f = 256 / side
    half = 0.25 * face_h * f
    col0, col1 = max(0, round(128 - half)), min(256, round(128 + half))
    rows = np.flatnonzero((mask[:, col0:col1] >= 0.5).mean(axis=1) >= CROWN_ROW_SHARE)
    if rows.size == 0:
        return None
    crown = region.top + rows[0] / f
    if crown <= 0.01 * rgb.shape[0]:
        raise ApiError(
            422,
            "face_at_edge",
            "the top of the head is cut off by the top edge of the photo; leave space above "
            "the head",
        )
    return crown


def check_edges(head: HeadGeometry, lm: Landmarks, plan: CropPlan, size: tuple[int, int]) -> None:
    """422 face_at_edge when framing would need pixels the original does not have."""
    width, height = size
    xs = lm.points[:, 0]
    face_w = float(xs.max() - xs.min())
    reasons = []
    if head.crown_y <= 1:
        reasons.append("the top of the head is cut off")
    if xs.min() - 0.1 * face_w < 0 or xs.max() + 0.1 * face_w > width:
        reasons.append("the face touches the side of the photo")
    if plan.bottom - height > MAX_BOTTOM_PAD * (plan.bottom - plan.top):
        reasons.append("the shoulders are cut off below the chin")
    if reasons:
        raise ApiError(
            422,
            "face_at_edge",
            f"the face is too close to the edge of the photo to frame it ({'; '.join(reasons)}); "
            "leave space around the head and shoulders",
        )


def geometry(lm: Landmarks, crown: float | None) -> HeadGeometry:
    eye_y = float(lm.eye_mid[1])
    chin = lm.chin_y
    if crown is None:  # fallback: forehead landmark plus a typical hair allowance
        crown = float(lm.xy(10)[1]) - 0.45 * (chin - float(lm.xy(10)[1]))
    return HeadGeometry(crown_y=crown, eye_y=eye_y, chin_y=chin, centre_x=float(lm.eye_mid[0]))


def visible_crown(alpha: np.ndarray, centre_x: float, fmt: PhotoFormat) -> float | None:
    """First output row where the head's central columns are visibly not background."""
    band = alpha[:, max(0, round(centre_x - 0.1 * fmt.width)) : round(centre_x + 0.1 * fmt.width)]
    rows = np.flatnonzero((band >= VISIBLE_ALPHA).mean(axis=1) >= CROWN_ROW_SHARE)
    return float(rows[0]) if rows.size else None


def measure_output(alpha: np.ndarray, head: HeadGeometry, plan: CropPlan, fmt: PhotoFormat) -> dict:
    """Where the head ended up in the output, in fractions of its height, vs. the bands."""
    s = plan.scale
    chin = (head.chin_y - plan.top) * s
    eye = (head.eye_y - plan.top) * s
    cx = (head.centre_x - plan.left) * s
    seen = visible_crown(alpha, cx, fmt)
    crown = seen if seen is not None else (head.crown_y - plan.top) * s
    h = fmt.height
    return {
        "format": fmt.name,
        "head": round((chin - crown) / h, 4),
        "crown": round(crown / h, 4),
        "chin": round(chin / h, 4),
        "eyes_from_bottom": round(1 - eye / h, 4),
        "centre_x": round(cx / fmt.width, 4),
        "bands": fmt.bands(),
    }


def out_of_spec(measured: dict, fmt: PhotoFormat) -> list[str]:
    problems = []
    low, high = fmt.head_range
    if not low <= measured["head"] <= high:
        problems.append(f"head {measured['head']:.0%} of the height (rule {low:.0%}–{high:.0%})")
    if fmt.eye_range is not None:
        low, high = fmt.eye_range
        if not low <= measured["eyes_from_bottom"] <= high:
            problems.append(
                f"eye line {measured['eyes_from_bottom']:.0%} from the bottom "
                f"(rule {low:.0%}–{high:.0%})"
            )
    if measured["crown"] < 0.01:
        problems.append("the crown touches the top edge")
    if measured["chin"] > 0.99:
        problems.append("the chin is outside the photo")
    return problems


def leftover_blobs(
    alpha: np.ndarray, person: np.ndarray, eye_row: float, face_cols: tuple[int, int]
) -> np.ndarray:
    """Kept pixels the person model calls background, as one mask.

    Above the eye line only outside the face's columns: the selfie mask is coarse at the hair.
    """
    kept = (alpha >= 0.5) & (person < 0.1)
    top = kept[: max(0, int(eye_row))]
    top[:, max(0, face_cols[0]) : max(0, face_cols[1])] = False
    return cv2.morphologyEx(kept.astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))


def largest_share(blobs: np.ndarray) -> float:
    count, _, stats, _ = cv2.connectedComponentsWithStats(blobs, connectivity=8)
    if count <= 1:
        return 0.0
    return float(stats[1:, cv2.CC_STAT_AREA].max()) / blobs.size


def drop_leftovers(alpha: np.ndarray, blobs: np.ndarray) -> np.ndarray:
    """``alpha`` with the leftover blobs (and a thin feathered rim around them) made background."""
    grown = cv2.dilate(blobs, np.ones((7, 7), np.uint8)).astype(np.float32)
    return alpha * (1.0 - cv2.GaussianBlur(grown, (0, 0), 1.5))


#: Refusals raised while framing that are listed with the pose and quality reasons.
FRAMING_CODES = ("face_at_edge", "image_too_small")


def make_passport_photo(
    data: bytes, fmt: PhotoFormat, remover: BackgroundRemover, declared: str | None = None
) -> PassportPhoto:
    """The passport photo for ``fmt``; ``declared`` a religious/medical head covering, if any."""
    image = decode_upload(data)
    models = remover.models_dir
    face = find_single_face(image, models)
    rgb = np.asarray(image)
    lm = landmarks_for(rgb, (face.x, face.y, face.w, face.h), models)
    components = quality.measure(rgb, lm)
    judged, reasons = compliance.judge(components, fmt, declared)
    reasons = pose_reasons(lm) + reasons
    if any(r.code in ("head_turned", "head_tilted") for r in reasons):
        refuse(reasons)  # no framing for a head that cannot be levelled
    roll = lm.roll_deg
    try:
        rgb, lm = level(rgb, lm, models)
        upright = Image.fromarray(rgb)
        crown = measure_crown(rgb, lm, models)
        head = geometry(lm, crown)
        plan = plan_crop(head, fmt)
        check_edges(head, lm, plan, upright.size)
    except ApiError as exc:
        if exc.status == 422 and exc.code in FRAMING_CODES:
            refuse([*reasons, Reason(exc.code, exc.message)])
        raise
    refuse(reasons)
    size = (fmt.width, fmt.height)

    # One U²-Net pass on the crop with context; the selfie mask of the same render is the
    # second opinion (a person model: a flag is background to it).
    context = plan.expanded(CONTEXT_MARGIN)
    # Rendered near the model's own 320 px input: U²-Net's mask is 320 px whatever the render
    # size, so a larger render only adds resampling (measured: ~0.1 s per photo at 900 px).
    factor = MODEL_RENDER_SIDE / max(context.right - context.left, context.bottom - context.top)
    context_size = (
        max(1, round((context.right - context.left) * factor)),
        max(1, round((context.bottom - context.top) * factor)),
    )
    context_render = render_crop(upright, context, context_size, fill=None)
    u2 = remover.mask(context_render)
    person = person_mask(np.asarray(context_render), models)
    person_img = Image.fromarray(np.clip(person * 255 + 0.5, 0, 255).astype(np.uint8))
    grow = max(3, round(0.03 * fmt.width)) * 2 + 1
    generous = Image.fromarray(
        cv2.dilate(
            np.asarray(person_img), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow))
        )
    )

    def matte(plan: CropPlan) -> tuple[np.ndarray, np.ndarray]:
        """The refined alpha and the person mask for ``plan`` (cut from the context masks)."""
        mask = cut_mask(u2, context, plan, size)
        second = cut_mask(generous, context, plan, size)
        seed = (
            round((head.centre_x - plan.left) * plan.scale),
            round(((head.eye_y + head.chin_y) / 2 - plan.top) * plan.scale),
        )
        alpha = refine_alpha(mask, seed, second_opinion=second)
        person_cut = np.asarray(cut_mask(person_img, context, plan, size), dtype=np.float32)
        return alpha, person_cut / 255

    alpha, person_cut = matte(plan)
    # The visible hair line in U²-Net's matte is the crown a person (or a judge) sees; the
    # selfie mask's is coarser. Re-plan once with it: no new inference, the context has room.
    seen = visible_crown(alpha, (head.centre_x - plan.left) * plan.scale, fmt)
    if seen is not None:
        crown_in = plan.top + seen / plan.scale
        if abs(crown_in - head.crown_y) * plan.scale > REPLAN_FROM * fmt.height:
            replanned = plan_crop(replace(head, crown_y=crown_in), fmt)
            if (
                replanned.left >= context.left
                and replanned.top >= context.top
                and replanned.right <= context.right
                and replanned.bottom <= context.bottom
            ):
                head, plan = replace(head, crown_y=crown_in), replanned
                check_edges(head, lm, plan, upright.size)
                alpha, person_cut = matte(plan)
    framed = render_crop(upright, plan, size)

    measured = measure_output(alpha, head, plan, fmt)
    measured["roll_deg"] = round(roll, 1)
    measured["quality"] = judged
    measured["rules"] = fmt.appearance.rules()
    measured["head_covering_declared"] = declared
    measured["levelled"] = abs(roll) >= LEVEL_FROM_DEG
    eye_row = (head.eye_y - plan.top) * plan.scale
    xs = (lm.points[:, 0] - plan.left) * plan.scale
    span = float(xs.max() - xs.min())
    face_cols = (round(xs.min() - 0.25 * span), round(xs.max() + 0.25 * span))
    blobs = leftover_blobs(alpha, person_cut, eye_row, face_cols)
    measured["leftover_removed"] = round(float(blobs.mean()), 4)
    if blobs.any():  # U²-Net kept background the person model rejects (a flag): drop it, recheck
        alpha = drop_leftovers(alpha, blobs)
    leftover = largest_share(leftover_blobs(alpha, person_cut, eye_row, face_cols))
    measured["leftover"] = round(leftover, 4)
    if leftover > MAX_LEFTOVER_SHARE:
        raise ApiError(
            422,
            "background_not_removable",
            f"part of the background ({leftover:.1%} of the photo) could not be separated from "
            "the person; use a plain, light background",
        )
    problems = out_of_spec(measured, fmt)
    if problems:
        raise ApiError(
            422,
            "cannot_frame",
            f"the photo cannot be framed to the {fmt.name} rule: {'; '.join(problems)}",
        )
    rgbf = np.asarray(framed, dtype=np.float32)
    out = rgbf * alpha[..., None] + 255.0 * (1.0 - alpha[..., None])
    photo = Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), mode="RGB")
    # A large JPEG was decoded downscaled (imaging.draft_large_jpeg): report input pixels.
    k = image.info.get("decode_scale", 1.0)
    return PassportPhoto(
        jpeg=encode_jpeg(photo),
        face=FaceBox(*(round(v * k) for v in (face.x, face.y, face.w, face.h))),
        crop=plan,
        input_size=(round(image.size[0] * k), round(image.size[1] * k)),
        crown_measured=crown is not None,
        compliance=measured,
        statement=fmt.appearance.covering_statement[declared] if declared else None,
    )


__all__ = ["PassportPhoto", "make_passport_photo"]
