"""ml: every sample portrait becomes an acceptable passport photo; non-faces are refused.

Each returned photo is judged by verify.photo_analysis (independent detector, exact size,
white border, face kept). Inputs and outputs are saved in the report dir for report.html.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from verify.checks import expect
from verify.context import Check, CheckContext
from verify.http import describe
from verify.images import SampleImage, load_manifest
from verify.model import Outcome, Problems
from verify.photo_analysis import analyse

PHOTOS = "/api/v1/photos"
WHERE = (
    "app/passport_app (faces.py, formats.py, background.py) and the model in the bundle "
    "(REMBG_MODEL / U2NET_HOME)"
)


def _save(folder: Path | None, name: str, data: bytes) -> str | None:
    if folder is None:
        return None
    (folder / name).write_bytes(data)
    return f"images/{name}"


def _portrait(
    ctx: CheckContext,
    sample: SampleImage,
    data: bytes,
    fmt: str,
    problems: Problems,
    folder: Path | None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"file": sample.file, "kind": sample.kind, "format": fmt}
    resp = ctx.http.post(
        PHOTOS, files={"image": (sample.file, data)}, data={"format": fmt}, timeout_s=60.0
    )
    entry["status"] = resp.status_code
    if resp.status_code != 200:
        entry["problems"] = [f"expected HTTP 200, got {describe(resp)}"]
        problems.add(
            f"{sample.file} ({fmt}): expected HTTP 200 with a passport photo, got "
            f"{describe(resp)} — check {WHERE}"
        )
        return entry
    entry["processing_ms"] = resp.headers.get("X-Passport-Processing-Ms")
    entry["output"] = _save(folder, f"{sample.stem}-{fmt}.jpg", resp.content)
    verdict = analyse(resp.content, fmt)
    entry["verdict"] = verdict.to_dict()
    entry["problems"] = verdict.problems
    for issue in verdict.problems:
        problems.add(f"{sample.file} ({fmt}): {issue} — check {WHERE}")
    return entry


def _refused(ctx: CheckContext, sample: SampleImage, data: bytes, problems: Problems) -> dict:
    resp = ctx.http.post(
        PHOTOS, files={"image": (sample.file, data)}, data={"format": "us"}, timeout_s=60.0
    )
    before = len(problems.items)
    expect.api_error(
        resp,
        sample.expected_status,
        sample.expected_code or "no_face",
        f"{sample.file} ({sample.kind})",
        problems,
    )
    return {
        "file": sample.file,
        "kind": sample.kind,
        "status": resp.status_code,
        "problems": problems.items[before:],
    }


def run(ctx: CheckContext) -> Outcome:
    samples = load_manifest(ctx.images_dir)
    folder = ctx.artifacts_dir()
    problems = Problems()
    photos: list[dict[str, Any]] = []
    for sample in samples:
        data = sample.read()
        source = _save(folder, f"{sample.stem}-input{sample.path.suffix.lower()}", data)
        if sample.kind == "portrait":
            for fmt in sample.formats:
                entry = _portrait(ctx, sample, data, fmt, problems, folder)
                photos.append({**entry, "input": source})
        else:
            photos.append({**_refused(ctx, sample, data, problems), "input": source})
    details = {"photos": photos}
    problems.raise_if_any(details)
    portraits = sum(1 for p in photos if p["kind"] == "portrait")
    return Outcome(
        f"{portraits} passport photo(s) pass independent checks; "
        f"{len(photos) - portraits} non-face photo(s) refused",
        details,
    )


CHECK = Check(
    name="ml",
    run=run,
    description="portraits → exact size, one face (independent detector), white border; "
    "non-faces → 422",
    requires=("api_url",),
    timeout_s=240.0,
)
