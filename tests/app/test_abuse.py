"""Privacy and error hygiene through the real app on moto: photos kept only on success, MPO
uploads, errors that say what (not where)."""

from __future__ import annotations

import io
from pathlib import Path

import boto3
from passport_app import create_app, load_settings
from passport_app.background import BackgroundRemover
from PIL import Image

from common.paths import APP_DIR
from tests.support.api_calls import assert_error, post_photo
from tests.support.app_env import APP_ENV, ensure_app_resources
from tests.support.photos import PORTRAITS, load_test_image


def _photo_keys() -> set[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=APP_ENV["MEDIA_BUCKET"])
    return {o["Key"] for o in listing.get("Contents", [])}


def test_photo_is_deleted_when_the_analytics_write_fails(moto_endpoint: str, remover) -> None:
    ensure_app_resources()
    app = create_app(
        load_settings({**APP_ENV, "ANALYTICS_TABLE": "no-such-analytics"}), remover=remover
    )
    before = _photo_keys()
    with app.test_client() as client:
        response = post_photo(client, load_test_image(PORTRAITS[0]), "us")
    error = assert_error(response, 503, "storage_unavailable")
    assert "ResourceNotFound" not in error["message"]
    assert _photo_keys() == before  # the biometric photo did not outlive the failed request


def test_mpo_from_a_phone_camera_is_accepted_first_frame(client) -> None:
    portrait = Image.open(io.BytesIO(load_test_image(PORTRAITS[0]))).convert("RGB")
    buffer = io.BytesIO()
    second = Image.new("RGB", portrait.size, (0, 0, 0))  # a depth/stereo frame: not the photo
    portrait.save(buffer, format="MPO", save_all=True, append_images=[second])
    data = buffer.getvalue()
    assert Image.open(io.BytesIO(data)).format == "MPO"
    response = post_photo(client, data, "us")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "image/jpeg"


def test_decode_errors_do_not_pass_on_library_messages(client) -> None:
    truncated = load_test_image(PORTRAITS[0])[:5000]
    error = assert_error(post_photo(client, truncated), 400, "invalid_image")
    assert "truncated" in error["message"]
    assert "image file is truncated" not in error["message"]  # Pillow's own words
    assert "bytes not processed" not in error["message"]


def test_errors_name_no_server_paths(moto_endpoint: str) -> None:
    ensure_app_resources()
    missing = Path("/srv/secret/models/u2netp.onnx")
    broken = BackgroundRemover("u2netp", missing, threads=1)
    broken.load()
    app = create_app(load_settings(APP_ENV), remover=broken)
    with app.test_client() as client:
        photo = post_photo(client, load_test_image(PORTRAITS[0]))
        error = assert_error(photo, 503, "model_unavailable")
        health = client.get("/health").get_data(as_text=True)
        long_path = "/api/" + "p" * 5000
        not_found = assert_error(client.get(long_path), 404, "not_found")
    for text in (error["message"], health):
        assert "/srv/secret" not in text and "onnx" not in text
    assert len(not_found["message"]) < 120


NGINX = APP_DIR / ".platform" / "nginx" / "conf.d"


def test_nginx_answers_its_own_errors_in_our_json_below_gunicorn_limits() -> None:
    """EB's nginx (checked by hand with nginx 1.22: docs/threat-model.md) answers its own
    errors with these bodies; here: every status is covered and every body is our shape."""
    import json
    import re
    import runpy

    text = (NGINX / "elasticbeanstalk" / "json_errors.conf").read_text()
    covered = set(re.findall(r"^error_page (\d+) ", text, re.M))
    assert covered == {"400", "494", "413", "414", "500", "502", "503", "504"}
    bodies = re.findall(r"return (\d+) '(.*)\\n';", text)
    assert len(bodies) == len(covered)
    for _status, body in bodies:
        error = json.loads(body)["error"]
        assert set(error) == {"code", "message"}
    size = re.search(
        r"large_client_header_buffers (\d+) (\d+)k;", (NGINX / "header_limits.conf").read_text()
    )
    per_line = int(size.group(2)) * 1024
    gunicorn = runpy.run_path(str(NGINX.parents[2] / "gunicorn.conf.py"))
    assert per_line < gunicorn["limit_request_line"]
    assert per_line < gunicorn["limit_request_field_size"]
    # The whole head nginx admits cannot hold more fields than gunicorn accepts.
    assert int(size.group(1)) * per_line // 4 < gunicorn["limit_request_fields"]
