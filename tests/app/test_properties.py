"""Property tests: the crop geometry rule and 'bad bytes never cause a 500'."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from passport_app.errors import ApiError
from passport_app.formats import FORMATS, MAX_UPSCALE, MIN_CROWN_MARGIN, HeadGeometry, plan_crop

heads = st.builds(
    lambda crown, head, eye_share, cx: HeadGeometry(
        crown_y=crown, eye_y=crown + eye_share * head, chin_y=crown + head, centre_x=cx
    ),
    crown=st.floats(-50, 4000),
    head=st.floats(20, 3000),
    eye_share=st.floats(0.4, 0.55),  # crown-to-eyes / crown-to-chin in real heads
    cx=st.floats(-50, 4000),
)


@pytest.mark.property("head placement follows the format rule or the photo is too small")
@given(head=heads, fmt=st.sampled_from(sorted(FORMATS)))
def test_crop_puts_the_head_where_the_format_wants_it(head, fmt) -> None:
    spec = FORMATS[fmt]
    try:
        plan = plan_crop(head, spec)
    except ApiError as exc:
        assert exc.status == 422 and exc.code == "image_too_small"
        return
    assert plan.scale <= MAX_UPSCALE
    height = plan.bottom - plan.top
    width = plan.right - plan.left
    assert abs(width / height - spec.width / spec.height) < 2 / min(width, height) + 1e-3
    low, high = spec.head_range
    assert low - 0.01 <= head.head_px / height <= high + 0.01
    crown = (head.crown_y - plan.top) / height
    assert crown >= MIN_CROWN_MARGIN - 0.01
    if spec.eye_range is not None:
        eyes = 1 - (head.eye_y - plan.top) / height
        low, high = spec.eye_range
        assert low - 0.01 <= eyes <= high + 0.01, eyes
    else:
        assert abs(crown - spec.crown_margin) < 0.01
    assert abs((plan.left + plan.right) / 2 - head.centre_x) <= 1


@pytest.mark.property("bad uploads get a 4xx JSON error, never a 500")
@given(data=st.binary(max_size=2048) | st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"]))
def test_arbitrary_bytes_never_cause_a_500(flask_app, data: bytes) -> None:
    for limiter in flask_app.extensions["limiter"]:
        limiter.reset()  # hundreds of examples from one client: not what this property is about
    response = flask_app.test_client().post(
        "/api/v1/photos",
        data={"image": (io.BytesIO(data), "x.jpg"), "format": "us"},
        content_type="multipart/form-data",
    )
    assert 400 <= response.status_code < 500
    assert response.get_json()["error"]["code"] in {
        "invalid_image",
        "unsupported_media_type",
        "image_too_small",
        "payload_too_large",
        "no_face",
    }
