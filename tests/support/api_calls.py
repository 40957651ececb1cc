"""Calling the app's API from a Flask test client, and checking its JSON error answers."""

from __future__ import annotations

import io
from typing import Any

PHOTOS = "/api/v1/photos"


def post_photo(
    client: Any,
    data: bytes,
    fmt: str | None = None,
    filename: str = "photo.jpg",
    head_covering: str | None = None,
):
    """POST an upload to /api/v1/photos as a browser form would (optionally naming a format)."""
    form = {"image": (io.BytesIO(data), filename)}
    if fmt is not None:
        form["format"] = fmt
    if head_covering is not None:
        form["head_covering"] = head_covering
    return client.post(PHOTOS, data=form, content_type="multipart/form-data")


def assert_error(response: Any, status: int, code: str) -> dict:
    """The response is the app's JSON error with this status and code, and a readable message."""
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.is_json, response.content_type
    error = response.get_json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and len(error["message"]) > 10
    return error
