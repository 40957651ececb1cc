"""report.html: one self-contained page a person would rather look at than read.

Images are embedded as data URIs so the file can be attached to a CI run or mailed on its own;
nothing is fetched from the network (no CDN CSS/JS), which also keeps it viewable offline.
"""

from __future__ import annotations

import base64
import json
import mimetypes
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from verify.model import Report

COLORS = {
    "PASSED": "#1a7f37",
    "FAILED": "#cf222e",
    "ERROR": "#bc4c00",
    "SKIPPED": "#6e7781",
    "BLOCKED": "#9a6700",
}

CSS = """
*{box-sizing:border-box}
body{font:15px/1.45 -apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:0;
 color:#1f2328;background:#f6f8fa}
header{padding:24px 32px;color:#fff}
header h1{margin:0 0 4px;font-size:24px}
header .meta{opacity:.92;font-size:14px}
header code{background:rgba(255,255,255,.18);padding:1px 6px;border-radius:4px}
main{padding:24px 32px;max-width:1200px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;
 margin-bottom:24px}
h2{font-size:18px;margin:0 0 12px}
.totals span{display:inline-block;margin-right:18px;font-weight:600}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{font-size:13px;color:#57606a;font-weight:600}
.pill{display:inline-block;color:#fff;border-radius:12px;padding:1px 10px;font-size:12px;
 font-weight:700;letter-spacing:.3px}
.bar{height:10px;border-radius:5px;background:#0969da;min-width:2px}
.barcell{width:22%}
.msg{font-size:14px}
details summary{cursor:pointer;color:#0969da;font-size:13px;margin-top:4px}
pre{background:#f6f8fa;padding:10px;border-radius:6px;overflow:auto;max-height:360px;
 font-size:12px}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:16px}
.card{border:1px solid #d0d7de;border-radius:8px;padding:12px;background:#fff}
.card h3{margin:0 0 8px;font-size:15px;display:flex;justify-content:space-between;gap:8px}
.pair{display:flex;gap:12px;align-items:center}
.pair figure{margin:0;flex:1;text-align:center}
.pair img{max-width:100%;max-height:300px;border:1px solid #d0d7de;border-radius:4px;
 background:repeating-conic-gradient(#eee 0 25%,#fff 0 50%) 0 0/16px 16px}
.pair figcaption{font-size:12px;color:#57606a;margin-top:4px}
.arrow{font-size:28px;color:#57606a}
.facts{font-size:12px;color:#57606a;margin-top:8px}
.problems{color:#cf222e;font-size:13px;margin:6px 0 0;padding-left:18px}
.ov{position:relative;display:inline-block}
.ov svg{position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none}
.refused{display:flex;align-items:center;justify-content:center;min-height:120px;
 border:2px dashed #d0d7de;border-radius:4px;color:#57606a;font-size:14px;padding:8px}
"""


def _data_uri(path: Path) -> str | None:
    if not path.is_file():
        return None
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _pill(status: str) -> str:
    return f'<span class="pill" style="background:{COLORS[status]}">{escape(status)}</span>'


def _check_rows(report: Report) -> str:
    longest = max((r.duration_s for r in report.results), default=0.0) or 1.0
    rows = []
    for r in report.results:
        width = 100 * r.duration_s / longest
        details = json.dumps(
            {k: v for k, v in r.details.items() if k != "photos"}, indent=2, default=str
        )
        more = (
            f"<details><summary>details</summary><pre>{escape(details)}</pre></details>"
            if r.details
            else ""
        ) + _links_and_charts(report, r.details)
        rows.append(
            f"<tr><td><b>{escape(r.name)}</b></td><td>{_pill(r.status.value)}</td>"
            f"<td>{r.duration_s:.2f}s</td><td class=barcell><div class=bar "
            f'style="width:{width:.1f}%;background:{COLORS[r.status.value]}"></div></td>'
            f'<td class="msg">{escape(r.message)}{more}</td></tr>'
        )
    return "\n".join(rows)


def _links_and_charts(report: Report, details: dict) -> str:
    """Files a check wrote beside the report (the load test's Locust report, SVG charts)."""
    if not isinstance(details, dict):
        return ""
    links = "".join(
        f' <a href="{escape(str(rel))}">{escape(str(label))}</a>'
        for label, rel in (details.get("links") or {}).items()
    )
    base = getattr(report, "report_dir", None)
    charts = "".join(
        f'<div><img alt="{escape(str(rel))}" src="{uri or escape(str(rel))}"></div>'
        for rel in details.get("charts") or []
        for uri in [_data_uri(Path(base) / rel) if base else None]
    )
    return (f"<div>{links}</div>" if links else "") + charts


def _figure(report_dir: Path | None, rel: str | None, caption: str) -> str:
    uri = _data_uri(report_dir / rel) if (report_dir and rel) else None
    if uri is None:
        return (
            f'<figure><div class="refused">image not saved</div><figcaption>{escape(caption)}'
            "</figcaption></figure>"
        )
    return (
        f'<figure><img src="{uri}" alt="{escape(caption)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _overlay(report_dir: Path | None, rel: str | None, caption: str, geometry: dict | None) -> str:
    """The output photo with the judge's crown, eye and chin lines over the format's bands.

    Bands are shaded (green: where the crown-to-chin span may end, blue: the eye-line band);
    measured lines are drawn across the photo. Positions are fractions of the height, so the
    SVG scales with the image.
    """
    uri = _data_uri(report_dir / rel) if (report_dir and rel) else None
    if uri is None or not geometry:
        return _figure(report_dir, rel, caption)
    bands = geometry.get("bands") or {}
    shapes = []
    head = bands.get("head")
    chin = geometry.get("chin")
    if head and chin is not None:
        # crown must lie where chin - head_range puts it
        top, bottom = chin - head[1], chin - head[0]
        shapes.append(
            f'<rect x="0" y="{top * 100:.2f}" width="100" height="{(bottom - top) * 100:.2f}" '
            'fill="#1a7f37" fill-opacity="0.18"/>'
        )
    eyes = bands.get("eyes_from_bottom")
    if eyes:
        shapes.append(
            f'<rect x="0" y="{(1 - eyes[1]) * 100:.2f}" width="100" '
            f'height="{(eyes[1] - eyes[0]) * 100:.2f}" fill="#0969da" fill-opacity="0.18"/>'
        )
    for key, colour in (("crown", "#cf222e"), ("eye", "#0969da"), ("chin", "#8250df")):
        value = geometry.get(key)
        if value is not None:
            shapes.append(
                f'<line x1="0" x2="100" y1="{value * 100:.2f}" y2="{value * 100:.2f}" '
                f'stroke="{colour}" stroke-width="0.6"><title>{key} {value:.1%}</title></line>'
            )
    svg = (
        '<svg viewBox="0 0 100 100" preserveAspectRatio="none" class="overlay">'
        + "".join(shapes)
        + "</svg>"
    )
    legend = (
        f"head {geometry.get('head', 0):.0%} (band {head[0]:.0%}–{head[1]:.0%})" if head else ""
    )
    if eyes:
        measured = geometry.get("eyes_from_bottom", 0)
        legend += f" · eyes {measured:.0%} up (band {eyes[0]:.0%}–{eyes[1]:.0%})"
    return (
        f'<figure><div class="ov"><img src="{uri}" alt="{escape(caption)}">{svg}</div>'
        f"<figcaption>{escape(caption)} — crown/eye/chin lines: {escape(legend)}</figcaption>"
        "</figure>"
    )


def _photo_card(report_dir: Path | None, photo: dict[str, Any]) -> str:
    problems = photo.get("problems") or []
    ok = not problems
    status = "PASSED" if ok else "FAILED"
    if photo.get("kind") == "portrait":
        verdict = photo.get("verdict") or {}
        size = f"{verdict.get('width')}×{verdict.get('height')}" if verdict else "—"
        title = f"{photo.get('file')} → {photo.get('format', '').upper()} {size}"
        if photo.get("output"):
            right = _overlay(
                report_dir,
                photo.get("output"),
                f"passport photo ({photo['format']})",
                verdict.get("geometry"),
            )
        else:
            right = (
                f'<figure><div class="refused">HTTP {photo.get("status")}</div>'
                "<figcaption>no photo returned</figcaption></figure>"
            )
        borders = verdict.get("border_white") or {}
        quality = verdict.get("quality") or {}
        facts = (
            f"faces found by the independent detector: {len(verdict.get('faces') or [])} · "
            f"white border: "
            + ", ".join(f"{k} {v:.0%}" for k, v in borders.items())
            + f" · processing {photo.get('processing_ms') or '?'} ms"
            + (
                f" · declared head covering: {photo['head_covering']}"
                if photo.get("head_covering")
                else ""
            )
            + (
                " · judge's quality readings: "
                + ", ".join(f"{k} {v:.3g}" for k, v in quality.items())
                if quality
                else ""
            )
        )
    else:
        expected = photo.get("expected_code") or "no_face"
        fmt = f", {photo['format']}" if photo.get("format") else ""
        title = f"{photo.get('file')} ({photo.get('kind', 'no_face')}{fmt})"
        right = (
            f'<figure><div class="refused">refused with HTTP {photo.get("status")}</div>'
            f"<figcaption>expected 422 {escape(expected)}</figcaption></figure>"
        )
        facts = "photos that cannot meet the rule must be refused, never returned with 200"
    issues = "".join(f"<li>{escape(p)}</li>" for p in problems)
    return (
        f'<div class="card"><h3><span>{escape(title)}</span>{_pill(status)}</h3>'
        f'<div class="pair">{_figure(report_dir, photo.get("input"), "uploaded")}'
        f'<div class="arrow">→</div>{right}</div>'
        f'<div class="facts">{escape(facts)}</div>'
        + (f'<ul class="problems">{issues}</ul>' if issues else "")
        + "</div>"
    )


def _gallery(report: Report) -> str:
    report_dir = Path(report.report_dir) if report.report_dir else None
    cards = []
    for r in report.results:
        for photo in r.details.get("photos", []) if isinstance(r.details, dict) else []:
            cards.append(_photo_card(report_dir, photo))
    if not cards:
        return ""
    return (
        "<section><h2>Test photos and the passport photos the deployment made</h2>"
        f'<div class="gallery">{"".join(cards)}</div></section>'
    )


def render_html(report: Report, extra_sections: Sequence[str] = ()) -> str:
    """The verification page; `extra_sections` (rendered `<section>`s, such as the canary
    judge's, automation/canary/report.py) go after the checks."""
    verdict = "PASSED" if report.passed else "FAILED"
    colour = COLORS["PASSED"] if report.passed else COLORS["FAILED"]
    totals = report.totals
    out = report.outputs
    meta = " · ".join(
        f"{label} <code>{escape(str(out[key]))}</code>"
        for label, key in (
            ("stack", "stack"),
            ("version", "app_version"),
            ("api", "api_url"),
            ("region", "region"),
        )
        if key in out
    )
    totals_html = "".join(
        f'<span style="color:{COLORS[s]}">{totals[s]} {s.lower()}</span>'
        for s in ("PASSED", "FAILED", "ERROR", "SKIPPED")
    )
    outputs_json = escape(json.dumps(out, indent=2, default=str))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Verification {escape(verdict)} — {escape(str(out.get("stack", "")))}</title>
<style>{CSS}</style></head>
<body>
<header style="background:{colour}">
<h1>Deployment verification {escape(verdict)}</h1>
<div class="meta">{meta}</div>
<div class="meta">started {escape(report.started_at)} · wall time {report.wall_s:.1f}s ·
checks' own durations sum to {report.checks_sum_s:.1f}s</div>
</header>
<main>
<section><h2>Checks</h2><div class="totals">{totals_html}</div>
<table><thead><tr><th>check</th><th>status</th><th>time</th><th></th><th>result</th></tr></thead>
<tbody>{_check_rows(report)}</tbody></table></section>
{"".join(extra_sections)}
{_gallery(report)}
<section><h2>Stack outputs used</h2><pre>{outputs_json}</pre></section>
</main></body></html>
"""


def write_html(report: Report, path: Path, extra_sections: Sequence[str] = ()) -> Path:
    path.write_text(render_html(report, extra_sections), encoding="utf-8")
    return path


def render_page(title: str, colour: str, sections: Sequence[str], meta: str = "") -> str:
    """A page of the same look holding only `sections`: for a run that stopped before verify
    (a canary aborted during the split has no verification to show, but has its judgement)."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(title)}</title>
<style>{CSS}</style></head>
<body>
<header style="background:{colour}"><h1>{escape(title)}</h1>
<div class="meta">{escape(meta)}</div></header>
<main>
{"".join(sections)}
</main></body></html>
"""


def insert_sections(path: Path, sections: Sequence[str]) -> Path:
    """Add rendered sections to an existing report.html, at the top of its <main>."""
    page = path.read_text(encoding="utf-8")
    at = page.index("<main>") + len("<main>")
    path.write_text(page[:at] + "\n" + "".join(sections) + page[at:], encoding="utf-8")
    return path


__all__ = ["COLORS", "insert_sections", "render_html", "render_page", "write_html"]
