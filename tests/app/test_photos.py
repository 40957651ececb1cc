"""POST /api/v1/photos through the real app: sample portraits, non-faces and every rejection."""

from __future__ import annotations

import io
import json

import boto3
import numpy as np
import pytest
from passport_app.formats import FORMATS
from PIL import Image

from tests.support.api_calls import PHOTOS, assert_error, post_photo
from tests.support.app_env import APP_ENV
from tests.support.photo_checks import crown_row, iou, judge_faces, open_jpeg, region_mean
from tests.support.photos import (
    MANIFEST,
    NO_FACES,
    PORTRAIT_FORMATS,
    PORTRAIT_REFUSALS,
    US_PORTRAIT,
    image_bytes,
    load_test_image,
)
from verify.photo_analysis import analyse

REFUSED = [(i["file"], i["expected_code"]) for i in MANIFEST["images"] if i["kind"] == "refused"]


def test_every_format_has_a_portrait_that_passes() -> None:
    assert {fmt for _, fmt, _ in PORTRAIT_FORMATS} == set(FORMATS)


@pytest.mark.parametrize(("name", "fmt", "declared"), PORTRAIT_FORMATS)
def test_portrait_becomes_a_passport_photo(client, name: str, fmt: str, declared) -> None:
    spec = FORMATS[fmt]
    source = load_test_image(name)
    response = post_photo(client, source, fmt, head_covering=declared)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "image/jpeg"
    assert response.headers["X-Passport-Format"] == fmt
    assert int(response.headers["X-Passport-Processing-Ms"]) > 0

    photo = open_jpeg(response.data)
    assert photo.size == (spec.width, spec.height)

    # The independent judge (verify.photo_analysis): size, one face, head %, eye line, roll,
    # centring, crown/chin in frame, nothing left beside the head, white border.
    verdict = analyse(response.data, fmt, declared_covering=declared is not None)
    assert verdict.ok, verdict.problems
    # The app's own report of the geometry agrees with the judge's measurement.
    reported = json.loads(response.headers["X-Passport-Compliance"])
    assert reported["format"] == fmt
    assert abs(reported["head"] - verdict.geometry["head"]) < 0.04, (reported, verdict.geometry)
    faces = judge_faces(photo)
    assert len(faces) == 1, faces
    x, y, w, h = faces[0]

    # The face is kept (not whitened) and the top of the head sits below a white margin.
    assert region_mean(photo, (x, y, x + w, y + h)) < 215
    crown = crown_row(photo, faces[0]) / spec.height
    assert 0.01 <= crown <= spec.crown_margin + 0.08, crown

    # Background whitened: the top band and both upper corners are near-white.
    cw, ch = spec.width // 8, spec.height // 10
    assert region_mean(photo, (0, 0, spec.width, spec.height // 40)) > 245
    assert region_mean(photo, (0, 0, cw, ch)) > 240
    assert region_mean(photo, (spec.width - cw, 0, spec.width, ch)) > 240

    # The face box header is in input coordinates and matches an independent detection.
    box = tuple(int(v) for v in response.headers["X-Passport-Face-Box"].split(","))
    source_faces = judge_faces(Image.open(io.BytesIO(source)), min_fraction=0.1)
    assert any(iou(box, other) > 0.5 for other in source_faces), (box, source_faces)

    # Stored in the media bucket (same bytes) and recorded as an analytics event.
    key = response.headers["X-Passport-Photo-Key"]
    assert key.startswith(f"photos/{fmt}/") and key.endswith(".jpg")
    stored = boto3.client("s3").get_object(Bucket=APP_ENV["MEDIA_BUCKET"], Key=key)
    assert stored["Body"].read() == response.data
    assert stored["ContentType"] == "image/jpeg"
    events = boto3.client("dynamodb").scan(
        TableName=APP_ENV["ANALYTICS_TABLE"],
        FilterExpression="photo_key = :k",
        ExpressionAttributeValues={":k": {"S": key}},
    )["Items"]
    assert len(events) == 1
    event = events[0]
    assert event["type"]["S"] == "photo_processed"
    assert event["format"]["S"] == fmt
    assert event["app_version"]["S"] == APP_ENV["APP_VERSION"]
    assert int(event["processing_ms"]["N"]) > 0


@pytest.mark.parametrize(("name", "code"), REFUSED)
def test_portrait_that_cannot_be_made_to_spec_is_refused(client, name: str, code: str) -> None:
    for fmt in ("us", "eu"):
        assert_error(post_photo(client, load_test_image(name), fmt), 422, code)


@pytest.mark.parametrize(("name", "fmt", "code"), PORTRAIT_REFUSALS)
def test_portrait_breaking_a_format_rule_is_refused(client, name: str, fmt: str, code: str) -> None:
    error = assert_error(post_photo(client, load_test_image(name), fmt), 422, code)
    assert code in [r["code"] for r in error["reasons"]]


@pytest.mark.parametrize("name", NO_FACES)
def test_photo_without_a_face_is_refused(client, name: str) -> None:
    assert_error(post_photo(client, load_test_image(name), "us"), 422, "no_face")


def test_format_defaults_to_us(client) -> None:
    response = post_photo(client, load_test_image(US_PORTRAIT))
    assert response.status_code == 200
    assert response.headers["X-Passport-Format"] == "us"
    assert open_jpeg(response.data).size == (600, 600)


def test_two_people_are_refused(client) -> None:
    left = Image.open(io.BytesIO(load_test_image("astronaut.jpg"))).convert("RGB")
    right = Image.open(io.BytesIO(load_test_image("grace_hopper.jpg"))).convert("RGB")
    both = Image.new("RGB", (left.width + right.width, max(left.height, right.height)), "white")
    both.paste(left, (0, 0))
    both.paste(right, (left.width, 0))
    error = assert_error(post_photo(client, image_bytes(both), "us"), 422, "multiple_faces")
    assert "2 faces" in error["message"]


def test_grayscale_upload_is_accepted(client) -> None:
    gray = Image.open(io.BytesIO(load_test_image(US_PORTRAIT))).convert("L")
    response = post_photo(client, image_bytes(gray), "us")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    photo = open_jpeg(response.data)
    assert photo.size == (600, 600)
    assert len(judge_faces(photo)) == 1


def test_png_with_alpha_is_flattened_onto_white(client) -> None:
    rgb = Image.open(io.BytesIO(load_test_image(US_PORTRAIT))).convert("RGB")
    rgba = rgb.convert("RGBA")
    alpha = np.full((rgb.height, rgb.width), 255, dtype=np.uint8)
    alpha[:, :60] = 0  # a transparent strip: must become white, not black
    rgba.putalpha(Image.fromarray(alpha))
    response = post_photo(client, image_bytes(rgba, "PNG"), "us", filename="photo.png")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert len(judge_faces(open_jpeg(response.data))) == 1


def test_exif_orientation_is_honoured(client) -> None:
    upright = Image.open(io.BytesIO(load_test_image("astronaut.jpg"))).convert("RGB")
    expected = judge_faces(upright, min_fraction=0.1)
    # Stored sideways with Orientation=6 ("rotate 90° clockwise to view"), as phones do.
    sideways = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = image_bytes(sideways, exif=exif.tobytes())
    response = post_photo(client, data, "us")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    box = tuple(int(v) for v in response.headers["X-Passport-Face-Box"].split(","))
    assert any(iou(box, other) > 0.5 for other in expected), (box, expected)
    # Without honouring EXIF the face would be sideways: prove the upload really is rotated.
    assert judge_faces(sideways, min_fraction=0.1) == []


def test_corrupt_bytes_are_an_invalid_image(client) -> None:
    assert_error(post_photo(client, b"this is not an image at all", "us"), 400, "invalid_image")


def test_truncated_jpeg_is_an_invalid_image(client) -> None:
    data = load_test_image("astronaut.jpg")
    assert_error(post_photo(client, data[: len(data) // 2], "us"), 400, "invalid_image")


def test_empty_file_is_an_invalid_image(client) -> None:
    assert_error(post_photo(client, b"", "us"), 400, "invalid_image")


def test_other_image_types_are_unsupported(client) -> None:
    gif = image_bytes(Image.new("RGB", (300, 300), "white"), "GIF")
    error = assert_error(post_photo(client, gif, "us", "photo.gif"), 415, "unsupported_media_type")
    assert "GIF" in error["message"] and "JPEG" in error["message"]


def test_tiny_image_is_too_small(client) -> None:
    tiny = Image.open(io.BytesIO(load_test_image("astronaut.jpg"))).resize((80, 80))
    error = assert_error(post_photo(client, image_bytes(tiny), "us"), 422, "image_too_small")
    assert "80x80" in error["message"]


def test_small_face_needing_too_much_enlargement_is_too_small(client) -> None:
    small = Image.open(io.BytesIO(load_test_image("astronaut.jpg"))).resize((220, 220))
    error = assert_error(post_photo(client, image_bytes(small), "eu"), 422, "image_too_small")
    assert "enlargement" in error["message"]


def test_upload_over_the_limit_is_413_json(client) -> None:
    limit = int(APP_ENV["MAX_UPLOAD_MB"]) * 1024 * 1024
    error = assert_error(post_photo(client, b"\xff" * (limit + 1), "us"), 413, "payload_too_large")
    assert f"{APP_ENV['MAX_UPLOAD_MB']} MB" in error["message"]
    # Far over the limit: werkzeug's MAX_CONTENT_LENGTH answers, with the same JSON shape.
    assert_error(post_photo(client, b"\xff" * (3 * limit), "us"), 413, "payload_too_large")


def test_decompression_bomb_is_refused_not_decoded(client) -> None:
    bomb = image_bytes(Image.new("1", (9000, 9000), 1), "PNG")  # ~10 KB claiming 81 Mpx
    assert len(bomb) < 100_000
    error = assert_error(post_photo(client, bomb, "us", "bomb.png"), 413, "payload_too_large")
    assert "Mpx" in error["message"]


def test_unknown_format_is_refused_naming_the_allowed_ones(client) -> None:
    error = assert_error(
        post_photo(client, load_test_image("astronaut.jpg"), "a4"), 400, "invalid_format"
    )
    assert "'a4'" in error["message"] and "ca, eu, uk, us" in error["message"]


def test_missing_image_field(client) -> None:
    response = client.post(
        PHOTOS,
        data={"format": "us", "picture": (io.BytesIO(b"x"), "p.jpg")},
        content_type="multipart/form-data",
    )
    error = assert_error(response, 400, "missing_image")
    assert "picture" in error["message"]


def test_non_multipart_body_is_unsupported(client) -> None:
    response = client.post(PHOTOS, data=load_test_image("astronaut.jpg"), content_type="image/jpeg")
    error = assert_error(response, 415, "unsupported_media_type")
    assert "multipart/form-data" in error["message"]


def test_get_on_photos_is_method_not_allowed(client) -> None:
    response = client.get(PHOTOS)
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]
