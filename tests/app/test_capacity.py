"""Back-pressure and bounded memory: the inference gate, 503 busy + Retry-After, /health while
photos are busy, large JPEGs decoded downscaled with the face box still in input pixels."""

from __future__ import annotations

import threading

import pytest
from passport_app import capacity
from passport_app.capacity import Busy, InferenceGate
from passport_app.imaging import DRAFT_TARGET_PIXELS, decode_upload
from PIL import Image

from tests.support.api_calls import assert_error, post_photo
from tests.support.photos import image_bytes, load_test_image


def hold(
    gate: InferenceGate, release: threading.Event, entered: threading.Event
) -> threading.Thread:
    def run() -> None:
        with gate.slot():
            entered.set()
            release.wait(30)

    thread = threading.Thread(target=run)
    thread.start()
    assert entered.wait(10)
    return thread


def test_gate_runs_slots_queues_and_refuses_the_rest(tmp_path) -> None:
    gate = InferenceGate(slots=1, queue=1, directory=tmp_path)
    release, entered = threading.Event(), threading.Event()
    running = hold(gate, release, entered)
    waiting_entered = threading.Event()
    waiting = threading.Thread(target=lambda: gate.slot().__enter__() or waiting_entered.set())
    waiting.start()
    # One runs, one waits (not yet inside), the third is refused at once.
    assert not waiting_entered.wait(0.3)
    with pytest.raises(Busy), gate.slot():
        pass
    assert gate.refused == 1
    release.set()
    running.join(10)
    assert waiting_entered.wait(10)


def test_full_gate_answers_503_busy_with_retry_after_and_health_still_answers(
    client, monkeypatch, tmp_path
) -> None:
    gate = InferenceGate(slots=1, queue=0, directory=tmp_path)
    monkeypatch.setattr("passport_app.routes.photos.GATE", gate)
    release, entered = threading.Event(), threading.Event()
    busy = hold(gate, release, entered)
    try:
        response = post_photo(client, load_test_image("astronaut.jpg"), "us")
        assert_error(response, 503, "busy")
        assert response.headers["Retry-After"] == str(capacity.RETRY_AFTER_S)
        assert client.get("/health").status_code == 200
    finally:
        release.set()
        busy.join(10)
    assert post_photo(client, load_test_image("astronaut.jpg"), "us").status_code == 200


def test_large_jpeg_is_decoded_downscaled_and_the_face_box_stays_in_input_pixels(client) -> None:
    small = load_test_image("astronaut.jpg")
    with Image.open(__import__("io").BytesIO(small)) as img:
        base = img.convert("RGB")
    factor = 8
    big_size = (base.width * factor, base.height * factor)
    assert big_size[0] * big_size[1] > DRAFT_TARGET_PIXELS
    big = image_bytes(base.resize(big_size, Image.Resampling.BILINEAR), quality=85)
    decoded = decode_upload(big)
    assert decoded.width * decoded.height < big_size[0] * big_size[1] / 3  # DCT-scaled decode
    assert decoded.info["decode_scale"] >= 2
    want = [
        int(v) * factor
        for v in post_photo(client, small, "us").headers["X-Passport-Face-Box"].split(",")
    ]
    got = [int(v) for v in post_photo(client, big, "us").headers["X-Passport-Face-Box"].split(",")]
    # Same face, reported in the large upload's pixels (within the detector's jitter).
    assert all(abs(g - w) <= 0.08 * want[2] + 8 for g, w in zip(got, want, strict=True)), (
        got,
        want,
    )


def test_slots_are_shared_by_every_worker_of_the_instance(tmp_path) -> None:
    """Two gates on one folder = two gunicorn workers: the slot one holds is busy for the other,
    and a worker never admits as many photos as it has threads."""
    worker_a = InferenceGate(slots=1, queue=0, directory=tmp_path)
    worker_b = InferenceGate(slots=1, queue=0, directory=tmp_path)
    release, entered = threading.Event(), threading.Event()
    held = hold(worker_a, release, entered)
    try:
        with pytest.raises(Busy), worker_b.slot():
            pass
    finally:
        release.set()
        held.join(10)
    with worker_b.slot():  # free again once released
        pass
    one_thread_free = InferenceGate(slots=4, queue=4, per_worker=1, directory=tmp_path / "w")
    release2, entered2 = threading.Event(), threading.Event()
    held2 = hold(one_thread_free, release2, entered2)
    try:
        with pytest.raises(Busy), one_thread_free.slot():
            pass
    finally:
        release2.set()
        held2.join(10)


def test_the_gate_folder_goes_with_its_gunicorn_master(tmp_path, monkeypatch) -> None:
    """Each gunicorn start made a /tmp/passport-gate-<uid>-<pid> folder that outlived it."""
    import os
    import runpy
    from pathlib import Path

    monkeypatch.setattr(capacity.tempfile, "gettempdir", lambda: str(tmp_path))
    gate = InferenceGate(directory=capacity.gate_dir_for(os.getpid()))
    with gate.slot():
        assert any(gate.directory.iterdir())  # slot files while it serves
    hooks = runpy.run_path(str(Path(capacity.__file__).parents[1] / "gunicorn.conf.py"))
    hooks["on_exit"](None)  # what gunicorn calls just before the master exits
    assert not capacity.gate_dir_for(os.getpid()).exists()
