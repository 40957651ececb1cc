"""``POST /api/v1/photos``: multipart ``image`` + ``format`` -> the passport photo as JPEG."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, request

from ..aws import AWS_ERRORS, error_code
from ..capacity import GATE
from ..errors import ApiError, drain_request_body, excerpt
from ..formats import parse_format, parse_head_covering
from ..logs import add_log_fields
from ..pipeline import make_passport_photo
from ..services import services
from ..storage import delete_photo, new_photo_key, record_event, store_photo

bp = Blueprint("photos", __name__)
log = logging.getLogger("passport_app")


def _read_upload(max_bytes: int, max_mb: int) -> bytes:
    if request.mimetype != "multipart/form-data":
        drain_request_body()
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send multipart/form-data with the photo in the field 'image' "
            f"(got {excerpt(request.mimetype) or 'no content type'})",
        )
    upload = request.files.get("image")
    if upload is None:
        fields = sorted(excerpt(f, 20) for f in set(request.files) | set(request.form))[:5]
        raise ApiError(
            400,
            "missing_image",
            "the multipart field 'image' is required"
            + (f" (got fields: {', '.join(fields)})" if fields else ""),
        )
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ApiError(413, "payload_too_large", f"the image exceeds the {max_mb} MB limit")
    return data


@bp.post("/api/v1/photos")
def create_photo() -> Response:
    started = time.perf_counter()
    svc = services()
    settings = svc.settings
    data = _read_upload(settings.max_upload_bytes, settings.max_upload_mb)
    fmt = parse_format(request.form.get("format", request.args.get("format")))
    declared = parse_head_covering(
        request.form.get("head_covering", request.args.get("head_covering"))
    )
    if not svc.remover.loaded:
        raise ApiError(
            503,
            "model_unavailable",
            "background removal is unavailable on this instance; try again shortly",
        )
    with GATE.slot():  # back-pressure: 503 busy + Retry-After when slots and queue are full
        photo = make_passport_photo(data, fmt, svc.remover, declared)
    key = new_photo_key(fmt.name)
    processing_ms = round((time.perf_counter() - started) * 1000)
    stored = False
    try:
        store_photo(
            svc.clients,
            settings,
            key,
            photo.jpeg,
            {
                "format": fmt.name,
                "app-version": settings.app_version,
                "face-box": photo.face.header(),
            },
        )
        stored = True
        record_event(
            svc.clients,
            settings,
            "photo_processed",
            format=fmt.name,
            processing_ms=processing_ms,
            photo_key=key,
            input_width=photo.input_size[0],
            input_height=photo.input_size[1],
        )
    except AWS_ERRORS as exc:
        log.error(
            "storing the photo failed", extra={"photo_key": key, "aws_error": error_code(exc)}
        )
        if stored:
            _delete_quietly(svc, key)  # personal data is kept only when the request succeeds
        raise ApiError(
            503, "storage_unavailable", "the photo was made but could not be stored; try again"
        ) from exc
    add_log_fields(
        format=fmt.name,
        face_box=photo.face.header(),
        photo_key=key,
        processing_ms=processing_ms,
        crown_measured=photo.crown_measured,
        bytes_out=len(photo.jpeg),
    )
    response = Response(photo.jpeg, status=200, mimetype="image/jpeg")
    response.headers["X-Passport-Format"] = fmt.name
    response.headers["X-Passport-Face-Box"] = photo.face.header()
    response.headers["X-Passport-Compliance"] = photo.compliance_header()
    response.headers["X-Passport-Processing-Ms"] = str(processing_ms)
    if photo.statement:
        # The applicant must send this with the photo (declared head covering).
        response.headers["X-Passport-Statement"] = photo.statement
    response.headers["X-Passport-Photo-Key"] = key
    response.headers["Cache-Control"] = "no-store"
    return response


def _delete_quietly(svc, key: str) -> None:  # noqa: ANN001 - Services
    try:
        delete_photo(svc.clients, svc.settings, key)
    except AWS_ERRORS as exc:  # the bucket's lifecycle expiry still removes it
        log.error(
            "deleting an orphaned photo failed",
            extra={"photo_key": key, "aws_error": error_code(exc)},
        )
