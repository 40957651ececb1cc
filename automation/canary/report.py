"""The canary judgement as a person reads it: `canary.json` and a section of `report.html`.

The page is verify's (verify/reports/html.py: one self-contained file, its CSS, no JS or CDN);
this module renders only the canary `<section>`: the decision, score and reason, and per metric
the two distributions side by side (a mirrored histogram as inline SVG: baseline up, canary
down, on one shared axis), the p-value, the effect against the allowed one, and the
classification. `canary.json` is `Verdict.to_json()` with the samples, so a report can be
rendered again from it (`Verdict.from_json`).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np

from automation.canary.judge import MetricResult, Verdict, is_rate
from common.jsonfile import write_json_atomic
from verify.reports.html import COLORS, insert_sections, render_page

CANARY_JSON = "canary.json"
REPORT_HTML = "report.html"
DECISION_COLORS = {
    "pass": COLORS["PASSED"],
    "marginal": COLORS["BLOCKED"],
    "fail": COLORS["FAILED"],
    "inconclusive": COLORS["SKIPPED"],
}
CLASS_COLORS = {
    "Pass": COLORS["PASSED"],
    "High": COLORS["FAILED"],
    "Low": COLORS["FAILED"],
    "NoData": COLORS["SKIPPED"],
}
BASELINE_COLOR = "#0969da"
CANARY_COLOR = "#bc4c00"
CHART_W, CHART_H, BINS = 240, 64, 24


def _pill(text: str, colour: str) -> str:
    return f'<span class="pill" style="background:{colour}">{escape(text)}</span>'


def distribution_svg(
    baseline: list[float] | tuple[float, ...], canary: list[float] | tuple[float, ...]
) -> str:
    """Both versions' samples as a mirrored histogram on one axis (baseline up, canary down).

    Heights are shares of each side's own samples, so unequal counts still compare.
    """
    values = [v for v in (*baseline, *canary) if np.isfinite(v)]
    if not values:
        return '<svg width="0" height="0" role="img" aria-label="no samples"></svg>'
    low, high = min(values), max(values)
    if high <= low:
        high = low + 1.0
    edges = np.linspace(low, high, BINS + 1)
    mid = CHART_H / 2
    bar_w = CHART_W / BINS
    rects = []
    for side, colour, sign in ((baseline, BASELINE_COLOR, -1), (canary, CANARY_COLOR, 1)):
        if not len(side):
            continue
        counts, _ = np.histogram(np.asarray(side, dtype=float), bins=edges)
        shares = counts / counts.sum() if counts.sum() else counts
        top = max(float(shares.max()), 1e-9)
        for i, share in enumerate(shares):
            height = (mid - 2) * float(share) / top
            if height <= 0:
                continue
            y = mid - height if sign < 0 else mid
            rects.append(
                f'<rect x="{i * bar_w:.1f}" y="{y:.1f}" width="{bar_w - 1:.1f}" '
                f'height="{height:.1f}" fill="{colour}"/>'
            )
    label = f"baseline (up, blue) and canary (down, orange) from {low:.4g} to {high:.4g}"
    return (
        f'<svg width="{CHART_W}" height="{CHART_H}" role="img" aria-label="{escape(label)}">'
        f'<line x1="0" y1="{mid}" x2="{CHART_W}" y2="{mid}" stroke="#d0d7de"/>'
        + "".join(rects)
        + f'<text x="0" y="{CHART_H - 1}" font-size="9" fill="#57606a">{low:.4g}</text>'
        f'<text x="{CHART_W}" y="{CHART_H - 1}" font-size="9" fill="#57606a" '
        f'text-anchor="end">{high:.4g}</text></svg>'
    )


def _effect(metric: MetricResult) -> str:
    if metric.effect is None:
        return "–"
    if is_rate(metric.name):
        return f"{metric.effect:+.2f} pp (allowed {metric.effect_size:g} pp)"
    return f"{100 * metric.effect:+.1f} % (allowed {100 * metric.effect_size:g} %)"


def _median(summary: dict) -> str:
    if not summary.get("n"):
        return "no samples"
    return f"median {summary['median']:.4g} (n={summary['n']})"


def _row(metric: MetricResult) -> str:
    p_value = "–" if metric.p_value is None else f"{metric.p_value:.3g}"
    critical = " <small>(critical)</small>" if metric.critical else ""
    return (
        f"<tr><td><b>{escape(metric.name)}</b>{critical}<br><small>"
        f"baseline {escape(_median(metric.baseline))}<br>canary "
        f"{escape(_median(metric.canary))}</small></td>"
        f"<td>{distribution_svg(metric.baseline_samples, metric.canary_samples)}</td>"
        f"<td>{escape(p_value)}</td><td>{escape(_effect(metric))}</td>"
        f"<td>{_pill(metric.classification, CLASS_COLORS[metric.classification])}"
        f'<div class="msg">{escape(metric.reason)}</div></td></tr>'
    )


def render_section(verdict: Verdict) -> str:
    """The canary `<section>` of report.html."""
    score = "–" if verdict.score is None else f"{verdict.score:g}"
    rows = "\n".join(_row(m) for m in verdict.metrics)
    return (
        '<section id="canary"><h2>Canary analysis</h2>'
        f'<div class="totals">{_pill(verdict.decision, DECISION_COLORS[verdict.decision])} '
        f"<span>score {escape(score)}</span></div>"
        f'<p class="msg">{escape(verdict.reason)}</p>'
        f'<p class="facts">Per metric: one-sided Mann-Whitney U test of the canary against the '
        f"baseline, samples one per instance per 10-second window; "
        f'<span style="color:{BASELINE_COLOR}">baseline</span> above the line, '
        f'<span style="color:{CANARY_COLOR}">canary</span> below.</p>'
        "<table><thead><tr><th>metric</th><th>distributions</th><th>p-value</th>"
        "<th>effect</th><th>classification</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def write_canary_json(verdict: Verdict, directory: Path) -> Path:
    path = Path(directory) / CANARY_JSON
    write_json_atomic(path, verdict.to_json())
    return path


def write_report(verdict: Verdict, directory: Path, title: str = "Canary analysis") -> dict:
    """canary.json, and the canary section in the run's report.html (added to verify's page
    when it is there, else a page of its own, e.g. when the canary was aborted)."""
    directory = Path(directory)
    paths = {"json": write_canary_json(verdict, directory)}
    html = directory / REPORT_HTML
    section = render_section(verdict)
    if html.is_file():
        paths["html"] = insert_sections(html, [section])
    else:
        meta = f"decision {verdict.decision}: {verdict.reason}"
        html.write_text(
            render_page(title, DECISION_COLORS[verdict.decision], [section], meta),
            encoding="utf-8",
        )
        paths["html"] = html
    return paths
