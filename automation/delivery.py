"""`automation metrics`: the four keys and pipeline health of one stack, for a terminal, JSON
and the run index (reports/<stack>/delivery.json, which verify/reports/index.py renders).

The figures come from two places the pipeline already writes: the deployment records
(automation/fourkeys.py) and the run folders (automation/run_health.py).
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

from common.jsonfile import write_json_atomic
from verify.reports.index import DELIVERY_FILE, load_runs, span, write_index

from .errors import UsageError
from .fourkeys import DEFAULT_MIN_SAMPLES, four_keys
from .pipeline import Pipeline
from .run_health import run_health

log = logging.getLogger("automation.delivery")
UNITS = {"h": 3600.0, "d": 86_400.0, "w": 7 * 86_400.0}
DEFAULT_SINCE = "30d"


def parse_since(text: str) -> float:
    """`30d`, `12w`, `48h` -> seconds; anything else is a usage error naming the forms."""
    match = re.fullmatch(r"\s*(\d+)\s*([hdw])\s*", text or "")
    if not match or int(match.group(1)) == 0:
        raise UsageError(
            f"--since expects a positive count of hours, days or weeks (48h, 30d, 12w); got "
            f"{text!r}"
        )
    return int(match.group(1)) * UNITS[match.group(2)]


def delivery_data(
    pipeline: Pipeline,
    *,
    since: str = DEFAULT_SINCE,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    now: float | None = None,
) -> dict[str, Any]:
    """The four keys and run health of the pipeline's stack over the last `since`."""
    until = time.time() if now is None else now
    start = until - parse_since(since)
    store = pipeline.record_store(pipeline.safe_outputs())
    records = store.list() if store else []
    keys = four_keys(
        records, stack=pipeline.engine.stack, since=start, until=until, min_samples=min_samples
    )
    health = run_health(load_runs(pipeline.report_root), since=start, until=until)
    return {
        "stack": pipeline.engine.stack,
        "since": since,
        "computed_at": until,
        "four_keys": keys.to_dict(),
        "pipeline_health": health.to_dict(),
    }


def write_delivery(report_root: Path, stack: str, data: dict[str, Any]) -> Path:
    """delivery.json beside the run folders, and the index page that shows it."""
    write_json_atomic(Path(report_root) / DELIVERY_FILE, data)
    return write_index(report_root, stack)


def refresh_delivery(pipeline: Pipeline) -> None:
    """After a run: the index page's delivery figures, up to date (best effort, logged)."""
    try:
        write_delivery(pipeline.report_root, pipeline.engine.stack, delivery_data(pipeline))
    except Exception as exc:  # noqa: BLE001 - the figures never fail the run they follow
        log.warning("could not update the delivery figures: %s", exc)


def _figure(name: str, figure: dict[str, Any], shown: str, behind: str) -> str:
    if figure["too_few"]:
        return f"  {name}: {figure['too_few']}"
    band = f" [{figure['band']}]" if figure["band"] else ""
    return f"  {name}: {shown}{band} ({behind})"


def delivery_text(data: dict[str, Any]) -> str:
    """The figures with the counts behind them, one per line."""
    keys, health = data["four_keys"], data["pipeline_health"]
    freq, lead = keys["deployment_frequency"], keys["lead_time_s"]
    rate, restore = keys["change_failure_rate"], keys["time_to_restore_s"]
    p90 = lead["extra"].get("p90") if lead["extra"] else None
    lines = [
        f"delivery of {data['stack']} over the last {data['since']} "
        f"({keys['deploys']} deployments)",
        _figure(
            "deployment frequency",
            freq,
            f"{(freq['value'] or 0):.2f}/day, {freq['extra'].get('per_week', 0):.2f}/week",
            f"{freq['count']} verified",
        ),
        _figure(
            "lead time for changes",
            lead,
            f"median {span(lead['value'])}, p90 "
            + (span(p90) if p90 is not None else lead["extra"].get("p90_too_few") or "-"),
            f"{lead['count']} verified with a commit time",
        ),
        _figure(
            "change failure rate",
            rate,
            f"{(rate['value'] or 0) * 100:.0f} %",
            f"{rate['extra']['failures']} failed of {rate['count']}",
        ),
        _figure(
            "time to restore",
            restore,
            f"median {span(restore['value'])}",
            f"{restore['count']} restored, {restore['extra']['unrestored']} not yet",
        ),
        f"pipeline health: {health['succeeded']} of {health['runs']} runs succeeded"
        + (
            f" ({health['success_rate'] * 100:.0f} %)" if health["success_rate"] is not None else ""
        ),
    ]
    for stage in health["stages"]:
        flag = (
            f"  SLOWER than its recent p95 {span(stage['recent_p95_s'])}" if stage["slower"] else ""
        )
        lines.append(
            f"  {stage['stage']}: p50 {span(stage['p50_s'])}, p95 {span(stage['p95_s'])}"
            f", latest {span(stage['latest_s'])} ({stage['count']} runs){flag}"
        )
    return "\n".join(lines)
