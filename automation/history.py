"""`automation history`: deployment records and the runs that made them, as a table or JSON.

Records outlive the stack (see records.py); the runs' report folders (reports/<stack>/<run>/)
add durations and links. The same data feeds reports/<stack>/index.html.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from verify.reports.index import load_runs

from .errors import PipelineError, UsageError
from .pipeline import Pipeline


def history_data(pipeline: Pipeline) -> dict[str, Any]:
    """The stack's deployment records, newest first, each with its run's stages and checks."""
    engine = pipeline.engine
    outputs = pipeline.safe_outputs()
    store = pipeline.record_store(outputs)
    missing: UsageError | None = None
    try:
        engine_history = engine.history()
    except UsageError as exc:  # not in this backend: never created, or destroyed
        engine_history, missing = [], exc
    except PipelineError as exc:
        engine_history = [{"error": str(exc)}]
    by_run = {r.get("run_id"): r for r in load_runs(pipeline.report_root)}
    deployments = []
    for record in reversed(store.list() if store else []):
        item = record.to_dict()
        run = by_run.get(record.run_id) or {}
        item["report"] = run.get("report_dir")
        item["stages"] = {s["stage"]: s["duration_s"] for s in run.get("stages", [])}
        item["checks"] = {name: d for name, (d, _) in run.get("checks", {}).items()}
        deployments.append(item)
    if missing is not None and not deployments:
        raise missing  # nothing kept either: say the stack does not exist (exit 2)
    return {"stack": engine.stack, "deployments": deployments, "engine_history": engine_history}


def canary_cell(canary: dict[str, Any]) -> str:
    """The canary's decision and reason, and the bake's, in one cell ('' without a canary)."""
    if not canary:
        return ""
    parts = []
    if canary.get("decision"):
        aborted = " (aborted)" if canary.get("aborted") else ""
        parts.append(f"{canary['decision']}{aborted}: {canary.get('reason') or ''}")
    bake = canary.get("bake")
    if bake:
        parts.append(f"bake {'passed' if bake.get('passed') else 'failed'}: {bake.get('reason')}")
    return "; ".join(parts)


def print_history(data: dict[str, Any]) -> None:
    """A table like `pulumi stack history`: newest first, one deployment per row."""
    table = Table(title=f"deployments of {data['stack']}", title_justify="left")
    columns = (
        "started",
        "id",
        "kind",
        "version",
        "status",
        "rolled to",
        "commit",
        "sha256",
        "secs",
        "stages",
        "canary",
    )
    for column in columns:
        table.add_column(column)
    for item in data["deployments"]:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(item["started_at"]))
        secs = f"{item['finished_at'] - item['started_at']:.0f}" if item.get("finished_at") else "-"
        table.add_row(
            started,
            item["id"],
            item["kind"],
            item["app_version"],
            item["status"],
            item.get("rollback_version") or "",
            (item.get("commit") or "")[:8],
            (item.get("bundle_sha256") or "")[:12],
            secs,
            " · ".join(f"{k} {v:.0f}s" for k, v in (item.get("stages") or {}).items()),
            canary_cell(item.get("canary") or {}),
        )
    console = Console(width=None if sys.stdout.isatty() else 160)
    if data["deployments"]:
        console.print(table)
        sboms = [(i["app_version"], i["sbom"]) for i in data["deployments"] if i.get("sbom")]
        for label, sbom in dict(sboms).items():
            console.print(f"SBOM of {label}: {sbom}")
    else:
        console.print(f"no deployments recorded for {data['stack']}")
