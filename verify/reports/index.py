"""reports/<stack>/index.html: every run of a stack, newest first, with a trend of check times.

Each pipeline command writes its own folder (`reports/<stack>/<run_id>/` with run.json, the
audit log pipeline.jsonl and the verify reports); this page lists them so a person sees at a
glance which run deployed what, whether it rolled back, how long each stage and check took,
and whether `ml` is getting slower. It reads only those files, so it can be rebuilt any time.
"""

from __future__ import annotations

import time
from html import escape
from pathlib import Path
from typing import Any

from common.jsonfile import read_json
from verify.reports.html import COLORS

STATUS_COLORS = {
    "succeeded": COLORS["PASSED"],
    "failed": COLORS["FAILED"],
    "not_recovered": COLORS["FAILED"],
    "rolled_back": COLORS["ERROR"],
    "interrupted": COLORS["SKIPPED"],
    "nothing_to_roll_back": COLORS["ERROR"],
}
CSS = """
body{font:14px/1.45 -apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:0;
 color:#1f2328;background:#f6f8fa}
header{padding:20px 32px;background:#24292f;color:#fff}header h1{margin:0;font-size:22px}
main{padding:20px 32px;max-width:1400px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:14px 18px;
 margin-bottom:20px}
h2{font-size:16px;margin:0 0 10px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{font-size:12px;color:#57606a}
.pill{display:inline-block;color:#fff;border-radius:10px;padding:1px 9px;font-size:12px;
 font-weight:700}
.num{text-align:right;font-variant-numeric:tabular-nums}
.small{font-size:12px;color:#57606a}
svg{vertical-align:middle}
"""


def load_runs(report_root: Path) -> list[dict[str, Any]]:
    """run.json of every run folder (plus its verify checks' durations), newest first."""
    runs = []
    for path in Path(report_root).glob("*/run.json"):
        try:
            run = read_json(path)
        except (OSError, ValueError):
            continue
        if not isinstance(run, dict):
            continue  # removed while we listed, or not a run
        run["folder"] = path.parent.name
        run["checks"] = {}
        for verify_json in sorted(path.parent.glob("*/verify.json")):
            try:
                report = read_json(verify_json, default={})
            except (OSError, ValueError):
                continue
            for check in report.get("checks", []):
                run["checks"][check["name"]] = (check["duration_s"], check["status"])
            run.setdefault(
                "report_link", f"{path.parent.name}/{verify_json.parent.name}/report.html"
            )
        runs.append(run)
    return sorted(runs, key=lambda r: r.get("started_at") or 0, reverse=True)


def sparkline(values: list[float | None], width: int = 120, height: int = 22) -> str:
    """A tiny inline SVG of values oldest → newest (gaps where a run did not have the check)."""
    points = [v for v in values if v is not None]
    if len(points) < 2:
        return ""
    top = max(points) or 1.0
    step = width / (len(values) - 1)
    coords = [
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}"
        for i, v in enumerate(values)
        if v is not None
    ]
    return (
        f'<svg width="{width}" height="{height}" role="img" aria-label="trend">'
        f'<polyline fill="none" stroke="#0969da" stroke-width="1.5" points="{" ".join(coords)}"/>'
        "</svg>"
    )


def render_index(stack: str, runs: list[dict[str, Any]]) -> str:
    stage_names = ["check", "preview", "up", "verify", "rollback", "verify-rollback"]
    rows = []
    for run in runs:
        stages = {s["stage"]: s for s in run.get("stages", [])}
        color = STATUS_COLORS.get(run.get("status", ""), COLORS["ERROR"])
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(run.get("started_at") or 0))
        cells = "".join(
            f'<td class="num">{stages[name]["duration_s"]:.1f}s</td>'
            if name in stages
            else "<td></td>"
            for name in stage_names
        )
        checks = ", ".join(
            f"{escape(name)} {duration:.1f}s" for name, (duration, _) in run["checks"].items()
        )
        link = run.get("report_link")
        rows.append(
            "<tr>"
            f"<td>{escape(started)}<div class='small'>{escape(run['folder'])}</div></td>"
            f"<td>{escape(run.get('command', ''))}</td>"
            f"<td><code>{escape(run.get('app_version') or '-')}</code></td>"
            f'<td><span class="pill" style="background:{color}">'
            f"{escape(run.get('status', '?'))}</span> <span class='small'>exit "
            f"{run.get('exit_code')}</span></td>"
            f"<td>{escape(run.get('rollback_version') or '')}</td>{cells}"
            f"<td class='small'>{checks}</td>"
            f"<td>{f'<a href={chr(34)}{escape(link)}{chr(34)}>report</a> · ' if link else ''}"
            f'<a href="{escape(run["folder"])}/pipeline.jsonl">log</a></td>'
            "</tr>"
        )
    oldest_first = list(reversed(runs))
    check_names = sorted({name for run in runs for name in run["checks"]})
    trends = ""
    for name in check_names:
        having = [d for d in (_dur(r, name) for r in runs) if d is not None]  # newest first
        trends += (
            f"<tr><td>{escape(name)}</td>"
            f"<td>{sparkline([_dur(r, name) for r in oldest_first if name in r['checks']])}</td>"
            f"<td class='num'>{_fmt(having[0] if having else None)}</td>"
            f"<td class='num'>{_fmt(_median(having[1:]))}</td>"
            f"<td class='num'>{len(having)}</td></tr>"
        )
    head = "".join(f"<th>{escape(name)}</th>" for name in stage_names)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>runs of {escape(stack)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>Runs of stack <code>{escape(stack)}</code></h1>"
        f"<div>{len(runs)} runs · newest first</div></header><main>"
        "<section><h2>Check durations (oldest → newest)</h2><table><tr><th>check</th>"
        f"<th>trend</th><th>latest</th><th>median before</th><th>runs</th></tr>{trends}"
        "</table></section>"
        "<section><h2>Runs</h2><table><tr><th>time</th><th>command</th><th>version</th>"
        f"<th>result</th><th>rolled back to</th>{head}<th>checks</th><th>links</th></tr>"
        f"{''.join(rows)}</table></section></main></body></html>\n"
    )


def _dur(run: dict[str, Any], name: str) -> float | None:
    found = run["checks"].get(name)
    return float(found[0]) if found else None


def _median(values: list[float | None]) -> float | None:
    points = sorted(v for v in values if v is not None)
    return points[len(points) // 2] if points else None


def _fmt(value: float | None) -> str:
    return f"{value:.1f}s" if value is not None else "-"


def write_index(report_root: Path, stack: str) -> Path:
    """(Re)write report_root/index.html from the run folders in it."""
    path = Path(report_root) / "index.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_index(stack, load_runs(report_root)), encoding="utf-8")
    return path
