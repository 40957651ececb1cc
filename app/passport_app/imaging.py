"""Turning uploaded bytes into a trustworthy RGB image (or a precise 4xx).

Everything a hostile or careless upload can do is caught here, before any expensive work:
not an image, a format we do not take, a truncated file, a decompression bomb (small file,
huge pixel count), camera orientation stored in EXIF, alpha channels and grayscale.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ApiError

# MPO is a JPEG with extra frames appended (phone cameras: depth/stereo); Pillow decodes its
# first frame, the photo itself.
ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png"}

#: Decoded size ceiling. 40 Mpx covers every phone camera; far beyond it the upload is a
#: decompression bomb (a few KB of PNG can claim gigapixels) and would exhaust worker memory.
MAX_PIXELS = 40_000_000

#: Below this on the shorter side there is no passport photo to be had whatever the format.
MIN_SIDE = 100

# Pillow's own guard (warn at MAX_IMAGE_PIXELS, raise at 2x) stays as a second line of defence.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def decode_upload(data: bytes) -> Image.Image:
    """Decode JPEG/PNG bytes to an upright RGB image, alpha flattened onto white.

    Raises ApiError: 400 invalid_image, 415 unsupported_media_type, 413 payload_too_large
    (pixel bomb), 422 image_too_small.
    """
    if not data:
        raise ApiError(400, "invalid_image", "the uploaded file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            fmt = image.format or "unknown"
            if fmt not in ACCEPTED_FORMATS:
                raise ApiError(
                    415,
                    "unsupported_media_type",
                    f"images of type {fmt[:10]} are not accepted; allowed: JPEG, PNG",
                )
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise _bomb(width, height)
            scale = draft_large_jpeg(image)
            image.load()  # full decode: truncated/corrupt data fails here, not later
            image = ImageOps.exif_transpose(image)
    except ApiError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ApiError(
            413,
            "payload_too_large",
            f"the image's pixel count exceeds the {MAX_PIXELS / 1e6:.0f} Mpx limit",
        ) from None
    except UnidentifiedImageError:
        raise ApiError(
            400, "invalid_image", "the upload is not a readable image (expected JPEG or PNG)"
        ) from None
    except (OSError, ValueError, SyntaxError):
        # Pillow's own message can name internals; say what, not where.
        raise ApiError(
            400, "invalid_image", "the image could not be decoded (truncated or corrupt)"
        ) from None

    width, height = image.size
    if min(width, height) < MIN_SIDE:
        raise ApiError(
            422,
            "image_too_small",
            f"the image is {width}x{height} px; at least {MIN_SIDE} px on the shorter side "
            "is needed",
        )
    rgb = to_rgb_on_white(image)
    rgb.info["decode_scale"] = scale
    return rgb


#: JPEGs above this are decoded downscaled (JPEG DCT scaling, 1/2..1/8) to at least this size:
#: a 40-Mpx upload is decoded at 1/4 (2.5 Mpx, ~8 MB per RGB copy instead of ~120 MB), and
#: nothing downstream needs more (the passport photo is 600 px; U²-Net sees 320 px).
DRAFT_TARGET_PIXELS = 2_000_000


def draft_large_jpeg(image: Image.Image) -> float:
    """Ask the JPEG decoder for a reduced image; returns source/decoded scale (1.0 if none)."""
    width, height = image.size
    if image.format != "JPEG" or width * height <= DRAFT_TARGET_PIXELS:
        return 1.0
    factor = (DRAFT_TARGET_PIXELS / (width * height)) ** 0.5
    image.draft("RGB", (max(1, int(width * factor) + 1), max(1, int(height * factor) + 1)))
    return width / image.size[0]


def _bomb(width: int, height: int) -> ApiError:
    return ApiError(
        413,
        "payload_too_large",
        f"the image is {width}x{height} px ({width * height / 1e6:.0f} Mpx); "
        f"the limit is {MAX_PIXELS / 1e6:.0f} Mpx",
    )


def to_rgb_on_white(image: Image.Image) -> Image.Image:
    """RGB with any transparency composited onto white (what a passport background is)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit grayscale PNG: scale to 8 bit instead of clipping to white.
        wide = np.asarray(image, dtype=np.uint32)
        image = Image.fromarray((wide >> 8).clip(0, 255).astype(np.uint8), mode="L")
    return image.convert("RGB")


def encode_jpeg(image: Image.Image, quality: int = 92) -> bytes:
    """Baseline JPEG, 4:4:4 chroma: passport kiosks and portals choke on odd JPEG variants."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, subsampling=0, optimize=True, dpi=(300, 300))
    return buffer.getvalue()
