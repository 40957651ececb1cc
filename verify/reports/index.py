"""reports/<stack>/index.html: every run of a stack, newest first, with a trend of check times,
and the stack's delivery figures (the four keys, pipeline health) when `automation` wrote them.

Each pipeline command writes its own folder (`reports/<stack>/<run_id>/` with run.json, the
audit log pipeline.jsonl and the verify reports); this page lists them so a person sees at a
glance which run deployed what, whether it rolled back, how long each stage and check took,
and whether `ml` is getting slower. It reads only those files, so it can be rebuilt any time.
The delivery section renders reports/<stack>/delivery.json (automation/delivery.py computes it
from the deployment records and these folders; this page only shows it).
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
.keys{display:flex;gap:12px;flex-wrap:wrap}.key{border:1px solid #d0d7de;border-radius:8px;
 padding:10px 14px;min-width:200px}.key .v{font-size:20px;font-weight:700}
.band{display:inline-block;background:#ddf4ff;color:#0969da;border-radius:10px;padding:0 8px;
 font-size:12px}.slow{color:#cf222e;font-weight:700}
svg{vertical-align:middle}
"""


DELIVERY_FILE = "delivery.json"


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


def span(seconds: float | None) -> str:
    """A duration as people read it (s, min, h, d); '-' when there is none."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86_400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f} %"


def _key_card(title: str, figure: dict[str, Any], shown: str, behind: str) -> str:
    if figure.get("too_few"):
        body = f"<div class='v'>–</div><div class='small'>{escape(figure['too_few'])}</div>"
    else:
        band = f" <span class='band'>{escape(figure['band'])}</span>" if figure.get("band") else ""
        body = (
            f"<div class='v'>{escape(shown)}{band}</div><div class='small'>{escape(behind)}</div>"
        )
    return f"<div class='key'><div class='small'>{escape(title)}</div>{body}</div>"


def render_delivery(data: dict[str, Any]) -> str:
    """The four keys (value, band, counts behind), a per-week trend, and pipeline health."""
    keys, health = data["four_keys"], data["pipeline_health"]
    freq, lead = keys["deployment_frequency"], keys["lead_time_s"]
    rate, restore = keys["change_failure_rate"], keys["time_to_restore_s"]
    p90 = (lead.get("extra") or {}).get("p90")
    cards = "".join(
        [
            _key_card(
                "deployment frequency",
                freq,
                f"{(freq.get('value') or 0) * 7:.1f}/week",
                f"{freq['count']} verified deployments",
            ),
            _key_card(
                "lead time for changes (median)",
                lead,
                span(lead.get("value")),
                f"p90 {span(p90)} · {lead['count']} verified with a commit time",
            ),
            _key_card(
                "change failure rate",
                rate,
                f"{(rate.get('value') or 0) * 100:.0f} %",
                f"{(rate.get('extra') or {}).get('failures', 0)} failed of {rate['count']}",
            ),
            _key_card(
                "time to restore (median)",
                restore,
                span(restore.get("value")),
                f"{restore['count']} restored, "
                f"{(restore.get('extra') or {}).get('unrestored', 0)} not yet",
            ),
        ]
    )
    weeks = keys.get("weeks") or []
    trend = (
        "<tr><td>deployments</td>"
        f"<td>{sparkline([float(w['deploys']) for w in weeks])}</td>"
        + "".join(f"<td class='num'>{w['deploys']}</td>" for w in weeks)
        + "</tr><tr><td>failure rate</td>"
        f"<td>{sparkline([w['failure_rate'] for w in weeks])}</td>"
        + "".join(f"<td class='num'>{_percent(w['failure_rate'])}</td>" for w in weeks)
        + "</tr><tr><td>lead time (median)</td>"
        f"<td>{sparkline([w['lead_time_s'] for w in weeks])}</td>"
        + "".join(f"<td class='num'>{span(w['lead_time_s'])}</td>" for w in weeks)
        + "</tr>"
    )
    week_head = "".join(f"<th>{escape(w['week'])}</th>" for w in weeks)
    stage_rows = "".join(
        f"<tr><td>{escape(s['stage'])}</td><td class='num'>{span(s['p50_s'])}</td>"
        f"<td class='num'>{span(s['p95_s'])}</td><td class='num'>{span(s['latest_s'])}</td>"
        f"<td class='num'>{s['count']}</td><td>"
        + (
            f"<span class='slow'>slower than its recent p95 ({span(s['recent_p95_s'])})</span>"
            if s["slower"]
            else ""
        )
        + "</td></tr>"
        for s in health["stages"]
    )
    rate_text = (
        f"{health['success_rate'] * 100:.0f} %" if health["success_rate"] is not None else "-"
    )
    return (
        f"<section id='delivery'><h2>Delivery over the last {escape(str(data['since']))} "
        f"({keys['deploys']} deployments; DORA four keys)</h2><div class='keys'>{cards}</div>"
        f"<h2 style='margin-top:14px'>Per week</h2><table><tr><th></th><th>trend</th>"
        f"{week_head}</tr>{trend}</table></section>"
        f"<section id='health'><h2>Pipeline health: {health['succeeded']} of {health['runs']} "
        f"runs succeeded ({rate_text})</h2><table><tr><th>stage</th><th>p50</th><th>p95</th>"
        f"<th>latest</th><th>runs</th><th></th></tr>{stage_rows}</table></section>"
    )


def render_index(
    stack: str, runs: list[dict[str, Any]], delivery: dict[str, Any] | None = None
) -> str:
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
        f"{render_delivery(delivery) if delivery else ''}"
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
    try:
        delivery = read_json(Path(report_root) / DELIVERY_FILE, default=None)
    except (OSError, ValueError):
        delivery = None  # a broken file never stops the page
    page = render_index(
        stack, load_runs(report_root), delivery if isinstance(delivery, dict) else None
    )
    path.write_text(page, encoding="utf-8")
    return path
