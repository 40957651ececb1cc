"""Property tests: the crop geometry rule and 'bad bytes never cause a 500'."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from passport_app.errors import ApiError
from passport_app.faces import FaceBox
from passport_app.formats import (
    CHIN_BELOW_BOX_TOP,
    FORMATS,
    MAX_UPSCALE,
    plan_crop,
    plausible_crown,
)

faces = st.builds(
    FaceBox,
    x=st.integers(-50, 4000),
    y=st.integers(-50, 4000),
    w=st.integers(20, 2000),
    h=st.integers(20, 2000),
)


@pytest.mark.property("head placement follows the format rule or the photo is too small")
@given(face=faces, fmt=st.sampled_from(sorted(FORMATS)), crown_offset=st.none() | st.floats(0, 2))
def test_crop_puts_the_head_where_the_format_wants_it(face, fmt, crown_offset) -> None:
    spec = FORMATS[fmt]
    crown_y = None if crown_offset is None else face.y - crown_offset * face.h
    try:
        plan = plan_crop(face, spec, crown_y=crown_y)
    except ApiError as exc:
        assert exc.status == 422 and exc.code == "image_too_small"
        return
    assert plan.scale <= MAX_UPSCALE
    crown = plausible_crown(face, crown_y)
    chin = face.y + CHIN_BELOW_BOX_TOP * face.h
    height = plan.bottom - plan.top
    width = plan.right - plan.left
    # aspect of the format (within rounding of the integer crop box)
    assert abs(width / height - spec.width / spec.height) < 2 / min(width, height) + 1e-3
    head = (chin - crown) / height
    low, high = spec.head_range
    assert low - 0.02 <= head <= high + 0.02
    assert abs((crown - plan.top) / height - spec.crown_margin) < 0.02
    centre = (plan.left + plan.right) / 2
    assert abs(centre - (face.x + face.w / 2)) <= 1


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
