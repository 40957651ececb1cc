"""Assertions on HTTP answers that produce the team's failure message format."""

from __future__ import annotations

from typing import Any

import requests

from verify.http import WHERE_APP, describe, json_body
from verify.model import CheckFailed, Problems

WHERE_API = "app/passport_app (HTTP contract in docs/contracts.md) and " + WHERE_APP


def status(resp: requests.Response, expected: int, what: str, where: str = WHERE_API) -> None:
    if resp.status_code != expected:
        raise CheckFailed(f"{what}: expected HTTP {expected}, got {describe(resp)} — check {where}")


def api_error(
    resp: requests.Response,
    expected_status: int | tuple[int, ...],
    code: str | tuple[str, ...],
    what: str,
    problems: Problems,
) -> None:
    """The documented error shape {"error": {"code", "message"}} with the documented status/code."""
    statuses = expected_status if isinstance(expected_status, tuple) else (expected_status,)
    codes = code if isinstance(code, tuple) else (code,)
    want = f"HTTP {'/'.join(map(str, statuses))} with error code {'/'.join(codes)}"
    if resp.status_code not in statuses:
        problems.add(f"{what}: expected {want}, got {describe(resp)} — check {WHERE_API}")
        return
    try:
        body: Any = resp.json()
    except ValueError:
        problems.add(
            f"{what}: expected a JSON error body, got {describe(resp)} — check {WHERE_API}"
        )
        return
    err = body.get("error") if isinstance(body, dict) else None
    if not (isinstance(err, dict) and isinstance(err.get("message"), str) and err.get("message")):
        problems.add(
            f'{what}: expected body {{"error": {{"code", "message"}}}}, got {body!r:.200} '
            f"— check {WHERE_API}"
        )
        return
    if err.get("code") not in codes:
        problems.add(f"{what}: expected {want}, got code {err.get('code')!r} — check {WHERE_API}")


def json_object(resp: requests.Response, what: str) -> dict[str, Any]:
    body = json_body(resp, what)
    if not isinstance(body, dict):
        raise CheckFailed(f"{what}: expected a JSON object, got {body!r:.200} — check {WHERE_API}")
    return body
