"""Pieces of the checks that need no deployment: photo judgement, readiness, manifest, policy."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.photos import TEST_IMAGES
from tests.support.scripted_server import Reply, ScriptedServer
from verify.checks import readiness
from verify.checks.performance import percentile
from verify.checks.s3 import is_tls_only
from verify.context import Check
from verify.images import ManifestError, load_manifest
from verify.model import Status
from verify.photo_analysis import analyse
from verify.runner import run_checks

IMAGES = TEST_IMAGES


def jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image)[1].tobytes()


def portrait() -> np.ndarray:
    return cv2.imread(str(IMAGES / "grace_hopper.jpg"))


def test_an_unprocessed_portrait_is_not_a_passport_photo():
    square = portrait()[44:556, :]  # 512×512 around the face, scaled without distortion
    verdict = analyse(jpeg(cv2.resize(square, (600, 600))), "us")
    assert len(verdict.faces) == 1  # the face is there …
    assert any(p.startswith("top border expected") for p in verdict.problems)  # … the wall too


def test_wrong_size_is_named():
    verdict = analyse(jpeg(portrait()), "eu")
    assert "size expected 413×531, got 512×600" in verdict.problems


def test_a_blank_white_photo_has_no_face():
    verdict = analyse(jpeg(np.full((600, 600, 3), 255, np.uint8)), "us")
    assert verdict.border_white["top"] == 1.0
    assert "independent face detection expected exactly 1 face, found 0" in verdict.problems


def test_undecodable_bytes():
    assert analyse(b"not a jpeg", "us").problems == ["the body is not a decodable image"]


def test_sample_manifest_loads_with_portraits_refusals_and_non_faces():
    samples = load_manifest(IMAGES)
    kinds = {s.kind for s in samples}
    assert kinds == {"portrait", "no_face", "refused"}
    assert all(
        s.expected_status == 422 and s.expected_code for s in samples if s.kind != "portrait"
    )
    portraits = [s for s in samples if s.kind == "portrait"]
    assert {f for s in portraits for f in s.formats} == {"us", "eu", "uk", "ca"}
    astronaut = next(s for s in portraits if s.file == "astronaut.jpg")
    assert astronaut.formats == ("us",)
    assert ("eu", "expression_not_neutral") in astronaut.refusals
    grace = next(s for s in portraits if s.file == "grace_hopper.jpg")
    assert grace.head_covering == "religious" and ("us", "eyeglasses") in grace.refusals


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "manifest.json not found"),
        ("[1,", "is not valid JSON"),
        ('{"images": [{"file": "a.jpg", "kind": "cat"}]}', "needs 'file' and 'kind'"),
        ('{"images": [{"file": "gone.jpg", "kind": "portrait"}]}', "gone.jpg does not exist"),
        ('{"images": []}', "lists no portrait"),
    ],
)
def test_bad_manifests_are_named(tmp_path: Path, content: str | None, needle: str):
    if content is not None:
        (tmp_path / "manifest.json").write_text(content)
    with pytest.raises(ManifestError, match=needle):
        load_manifest(tmp_path)


def tls_policy(**overrides) -> dict:
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    return {"Version": "2012-10-17", "Statement": [{**statement, **overrides}]}


def test_tls_only_policy_recognition():
    assert is_tls_only(tls_policy())
    assert is_tls_only(tls_policy(Principal={"AWS": "*"}))
    assert not is_tls_only(tls_policy(Effect="Allow"))
    assert not is_tls_only(tls_policy(Condition={"Bool": {"aws:SecureTransport": "true"}}))
    assert not is_tls_only(tls_policy(Action="s3:GetObject"))
    assert not is_tls_only({"Statement": []})


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 50) == 10.0 and percentile(values, 95) == 19.0
    assert percentile([5.0], 95) == 5.0


def run_readiness(url: str, timeout_s: float = 5.0, settle_s: float = 0.3):
    check = Check(
        name="readiness",
        run=lambda ctx: readiness.run(ctx, settle_s=settle_s),
        description="",
        timeout_s=timeout_s,
    )
    return run_checks([check], {"api_url": url}, images_dir=IMAGES)[0]


def test_readiness_waits_through_warmup(server: ScriptedServer):
    server.on(
        "/health",
        Reply(502, b"<html>bad gateway</html>"),
        Reply(503, {"x": 1}),
        Reply(200, {"status": "ok"}),
    )
    result = run_readiness(server.url)
    assert result.status is Status.PASSED and result.details["attempts"] == 3


def test_readiness_fails_fast_when_the_app_reports_unhealthy(server: ScriptedServer):
    body = {"status": "unhealthy", "failed": ["model"], "model_loaded": False}
    server.on("/health", Reply(503, body))
    result = run_readiness(server.url, timeout_s=30)
    assert result.status is Status.FAILED
    assert result.duration_s < 5
    assert "the app reports unhealthy (model not loaded)" in result.message
    assert "REMBG_MODEL" in result.message


def test_readiness_gives_up_at_its_deadline(server: ScriptedServer):
    server.on("/health", Reply(504, b"gateway timeout"))
    result = run_readiness(server.url, timeout_s=1.5)
    assert result.status in (Status.FAILED, Status.ERROR)
    assert "expected HTTP 200 within 1.5s, last answer HTTP 504" in result.message
    assert result.duration_s < 2.6


def test_readiness_does_not_wait_on_a_wrong_answer(server: ScriptedServer):
    server.on("/health", Reply(404, {"error": {"code": "not_found", "message": "no"}}))
    result = run_readiness(server.url, timeout_s=30)
    assert result.status is Status.FAILED and result.duration_s < 2
    assert "expected HTTP 200, got HTTP 404" in result.message


def test_manifest_file_is_what_the_app_engineer_ships():
    data = json.loads((IMAGES / "manifest.json").read_text())
    assert "images" in data
