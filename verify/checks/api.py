"""api: every documented endpoint answers with its documented status and JSON shape.

Happy path once (the photo endpoint with its headers, stored in the media bucket), then every
documented error path, all problems collected so one run lists every contract break.
"""

from __future__ import annotations

import os
import uuid

import cv2
import numpy as np

from verify.checks import expect
from verify.context import Check, CheckContext
from verify.images import first, load_manifest
from verify.model import CheckFailed, Outcome, Problems
from verify.photo_analysis import decode

PHOTOS = "/api/v1/photos"
VALIDATE = "/api/v1/email/validate"
CONFIRM = "/api/v1/email/confirm"
PHOTO_HEADERS = (
    "X-Passport-Format",
    "X-Passport-Face-Box",
    "X-Passport-Processing-Ms",
    "X-Passport-Photo-Key",
)


def _jpeg(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError("could not encode a generated JPEG")
    return buf.tobytes()


def two_faces(portrait: bytes) -> bytes:
    """The same portrait twice side by side: a photo with exactly two frontal faces."""
    image = decode(portrait)
    if image is None:
        raise RuntimeError("sample portrait is not decodable")
    return _jpeg(np.hstack([image, image]))


def tiny(portrait: bytes, side: int = 48) -> bytes:
    image = decode(portrait)
    if image is None:
        raise RuntimeError("sample portrait is not decodable")
    return _jpeg(cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA))


def _photo(ctx: CheckContext, data: bytes | None, fmt: str = "us", name: str = "x.jpg"):
    """A multipart upload like a browser's; without data, a multipart form lacking `image`."""
    files: dict = {"format": (None, fmt)}
    if data is not None:
        files["image"] = (name, data, "image/jpeg")
    return ctx.http.post(PHOTOS, files=files, timeout_s=60.0)


def check_photo_ok(ctx: CheckContext, portrait: bytes, problems: Problems) -> dict:
    resp = _photo(ctx, portrait, "us")
    expect.status(resp, 200, f"POST {PHOTOS} (portrait, format=us)")
    details: dict = {"headers": {h: resp.headers.get(h) for h in PHOTO_HEADERS}}
    ctype = resp.headers.get("Content-Type", "")
    problems.expect(
        ctype.startswith("image/jpeg"),
        f"POST {PHOTOS} Content-Type",
        "image/jpeg",
        repr(ctype),
        expect.WHERE_API,
    )
    for header in PHOTO_HEADERS:
        problems.expect(
            bool(resp.headers.get(header)),
            f"POST {PHOTOS} header {header}",
            "present",
            "missing",
            expect.WHERE_API,
        )
    problems.expect(
        resp.headers.get("X-Passport-Format") == "us",
        "X-Passport-Format",
        "'us'",
        repr(resp.headers.get("X-Passport-Format")),
        expect.WHERE_API,
    )
    box = (resp.headers.get("X-Passport-Face-Box") or "").split(",")
    problems.expect(
        len(box) == 4 and all(p.strip().isdigit() for p in box),
        "X-Passport-Face-Box",
        "'x,y,w,h' integers",
        repr(resp.headers.get("X-Passport-Face-Box")),
        expect.WHERE_API,
    )
    problems.expect(
        decode(resp.content) is not None,
        f"POST {PHOTOS} body",
        "a decodable JPEG",
        f"{len(resp.content)} undecodable bytes",
        expect.WHERE_API,
    )
    key = resp.headers.get("X-Passport-Photo-Key")
    if key:
        try:
            ctx.aws.call("s3", "head_object", Bucket=ctx.outputs["media_bucket"], Key=key)
            details["stored"] = f"s3://{ctx.outputs['media_bucket']}/{key}"
        except Exception as exc:  # noqa: BLE001 - any answer but 200 is the finding
            problems.add(
                f"processed photo in the media bucket: expected s3://{ctx.outputs['media_bucket']}"
                f"/{key} to exist, got {exc} — check the app's MEDIA_BUCKET and the instance "
                "role's s3:PutObject (components/)"
            )
    return details


def run(ctx: CheckContext) -> Outcome:
    samples = load_manifest(ctx.images_dir)
    portrait = first(samples, "portrait")
    no_face = first(samples, "no_face")
    if portrait is None:
        raise CheckFailed(f"{ctx.images_dir}/manifest.json lists no portrait")
    portrait_bytes = portrait.read()
    problems = Problems()
    details = {"photo": check_photo_ok(ctx, portrait_bytes, problems)}

    limit_mb = ctx.outputs["max_upload_mb"]
    oversize = os.urandom(limit_mb * 1024 * 1024 + 64 * 1024)
    cases = [
        (f"POST {PHOTOS} without an image", _photo(ctx, None), 400, "missing_image"),
        (
            f"POST {PHOTOS} with a text file",
            _photo(ctx, b"this is not an image\n" * 10, name="notes.txt"),
            (400, 415),
            ("invalid_image", "unsupported_media_type"),
        ),
        (
            f"POST {PHOTOS} with corrupt JPEG bytes",
            _photo(ctx, b"\xff\xd8\xff\xe0" + os.urandom(2048)),
            (400, 415),
            ("invalid_image", "unsupported_media_type"),
        ),
        (
            f"POST {PHOTOS} format=bogus",
            _photo(ctx, portrait_bytes, "bogus"),
            400,
            "invalid_format",
        ),
        (
            f"POST {PHOTOS} {limit_mb} MB + 64 KiB (over max_upload_mb)",
            _photo(ctx, oversize),
            413,
            "payload_too_large",
        ),
        (
            f"POST {PHOTOS} with two faces",
            _photo(ctx, two_faces(portrait_bytes)),
            422,
            "multiple_faces",
        ),
        (
            f"POST {PHOTOS} 48×48 portrait",
            _photo(ctx, tiny(portrait_bytes)),
            422,
            "image_too_small",
        ),
        (
            f"POST {VALIDATE} with a non-JSON body",
            ctx.http.post(
                VALIDATE, data=b"{not json", headers={"Content-Type": "application/json"}
            ),
            400,
            "invalid_json",
        ),
        (
            f"POST {VALIDATE} with 'not-an-email'",
            ctx.http.post(VALIDATE, json={"email": "not-an-email"}),
            400,
            "invalid_email",
        ),
        (f"GET {CONFIRM} without a token", ctx.http.get(CONFIRM), 400, "missing_token"),
        (
            f"GET {CONFIRM} with an unknown token",
            ctx.http.get(CONFIRM, params={"token": f"verify-probe-{uuid.uuid4().hex}"}),
            404,
            "token_not_found",
        ),
        (
            "GET /api/v1/verify-probe-missing",
            ctx.http.get("/api/v1/verify-probe-missing"),
            404,
            "not_found",
        ),
        (f"DELETE {PHOTOS}", ctx.http.request("DELETE", PHOTOS), 405, "method_not_allowed"),
    ]
    if no_face is not None:
        cases.append(
            (
                f"POST {PHOTOS} with {no_face.file} (no face)",
                _photo(ctx, no_face.read(), name=no_face.file),
                422,
                "no_face",
            )
        )
    for what, resp, status, code in cases:
        expect.api_error(resp, status, code, what, problems)
    details["error_paths"] = [what for what, *_ in cases]
    problems.raise_if_any(details)
    return Outcome(f"photo endpoint and {len(cases)} error paths match the contract", details)


CHECK = Check(
    name="api",
    run=run,
    description="every documented endpoint: status codes, JSON error shape, photo headers",
    requires=("api_url", "max_upload_mb", "media_bucket", "region"),
    timeout_s=120.0,
)
