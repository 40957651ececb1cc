"""ml: every sample portrait becomes an in-spec passport photo; the rest are refused.

Each returned photo is judged by verify.photo_analysis, independently of the app's code:
exact size, one face (a different detector), white border, and the head measured by the judge
itself (crown from pixels, chin and eyes from its own mesh run) against the format's published
bands, centring, roll, crown/chin in frame and background left beside the head. Portraits that
cannot be made to spec (manifest kind ``refused``) and non-faces must get 422 with the expected
code. Inputs and outputs are saved in the report dir for report.html (with overlays).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from verify.checks import expect
from verify.context import Check, CheckContext
from verify.http import HttpClient, describe
from verify.images import SampleImage, load_manifest
from verify.model import Outcome, Problems
from verify.photo_analysis import analyse

PHOTOS = "/api/v1/photos"
#: Uploads in flight: one per gunicorn worker of a 2-vCPU instance (app/gunicorn.conf.py).
PARALLEL = 2
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
    http: HttpClient, sample: SampleImage, data: bytes, fmt: str, folder: Path | None
) -> dict[str, Any]:
    """One upload in one format, judged independently; problems are full failure messages."""
    entry: dict[str, Any] = {"file": sample.file, "kind": sample.kind, "format": fmt}
    form = {"format": fmt}
    if sample.head_covering:
        form["head_covering"] = sample.head_covering
        entry["head_covering"] = sample.head_covering
    resp = http.post(PHOTOS, files={"image": (sample.file, data)}, data=form, timeout_s=60.0)
    entry["status"] = resp.status_code
    if resp.status_code != 200:
        entry["problems"] = [
            f"{sample.file} ({fmt}): expected HTTP 200 with a passport photo, got "
            f"{describe(resp)} — check {WHERE}"
        ]
        return entry
    entry["processing_ms"] = resp.headers.get("X-Passport-Processing-Ms")
    entry["compliance"] = resp.headers.get("X-Passport-Compliance")
    entry["output"] = _save(folder, f"{sample.stem}-{fmt}.jpg", resp.content)
    verdict = analyse(resp.content, fmt, declared_covering=bool(sample.head_covering))
    entry["verdict"] = verdict.to_dict()
    entry["problems"] = [
        f"{sample.file} ({fmt}): {issue} — check {WHERE}" for issue in verdict.problems
    ]
    return entry


def _refused(
    http: HttpClient,
    sample: SampleImage,
    data: bytes,
    fmt: str = "us",
    status: int | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """One upload that must be refused: a non-face, an unfixable portrait, or a portrait in a
    format whose appearance rules it breaks (``code`` then names that rule)."""
    resp = http.post(
        PHOTOS, files={"image": (sample.file, data)}, data={"format": fmt}, timeout_s=60.0
    )
    problems = Problems()
    want = code or sample.expected_code or "no_face"
    expect.api_error(
        resp,
        status or sample.expected_status,
        want,
        f"{sample.file} ({sample.kind}, {fmt})",
        problems,
    )
    return {
        "file": sample.file,
        "kind": sample.kind if code is None else "refused",
        "format": fmt,
        "status": resp.status_code,
        "expected_code": want,
        "problems": problems.items,
    }


def run(ctx: CheckContext) -> Outcome:
    samples = load_manifest(ctx.images_dir)
    folder = ctx.artifacts_dir()
    # sample, format (None: the sample's refusal in us), rule code (a portrait refused in a
    # format whose appearance rules it breaks), saved input
    jobs: list[tuple[SampleImage, str | None, str | None, str | None]] = []
    for sample in samples:
        source = _save(folder, f"{sample.stem}-input{sample.path.suffix.lower()}", sample.read())
        formats = sample.formats if sample.kind == "portrait" else (None,)
        jobs.extend((sample, fmt, None, source) for fmt in formats)
        jobs.extend((sample, fmt, code, source) for fmt, code in sample.refusals)

    clients = ctx.http_per_thread()

    def do(index: int) -> dict[str, Any]:
        sample, fmt, code, source = jobs[index]
        http = clients.get()
        if fmt is None:
            return {**_refused(http, sample, sample.read()), "input": source}
        if code is not None:
            return {**_refused(http, sample, sample.read(), fmt, 422, code), "input": source}
        return {**_portrait(http, sample, sample.read(), fmt, folder), "input": source}

    try:
        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            photos = list(pool.map(do, range(len(jobs))))
    finally:
        clients.close()
    problems = Problems()
    for photo in photos:
        for issue in photo["problems"]:
            problems.add(issue)
    details = {"photos": photos}
    problems.raise_if_any(details)
    portraits = sum(1 for p in photos if p["kind"] == "portrait")
    # Portraits refused in a format whose appearance rules they break count as refusals.
    return Outcome(
        f"{portraits} passport photo(s) pass independent checks; "
        f"{len(photos) - portraits} unfixable or non-face photo(s) refused with the expected code",
        details,
    )


CHECK = Check(
    name="ml",
    run=run,
    description="portraits → in spec by an independent judge (size, one face, head %, eye line, "
    "roll, centring, nothing beside the head, expression, eyes, eyewear, head covering, "
    "sharpness, exposure, lighting); unfixable portraits, portraits breaking a format's "
    "appearance rules and non-faces → 422",
    requires=("api_url",),
    timeout_s=240.0,
)
