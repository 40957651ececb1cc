"""summary.md: the table a CI run page shows (also appended to $GITHUB_STEP_SUMMARY)."""

from __future__ import annotations

from pathlib import Path

from verify.model import Report

ICONS = {"PASSED": "✅", "FAILED": "❌", "ERROR": "⚠️", "SKIPPED": "⏭️"}


def _cell(text: str, limit: int = 300) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_markdown(report: Report) -> str:
    verdict = "passed" if report.passed else "FAILED"
    stack = f" `{report.stack}`" if report.stack else ""
    totals = report.totals
    lines = [
        f"## Verification of{stack}: {ICONS['PASSED'] if report.passed else ICONS['FAILED']} "
        f"{verdict}",
        "",
        f"{totals['PASSED']} passed, {totals['FAILED']} failed, {totals['ERROR']} errors, "
        f"{totals['SKIPPED']} skipped — wall time {report.wall_s:.1f}s "
        f"(checks' own durations sum to {report.checks_sum_s:.1f}s)",
        "",
    ]
    version = report.outputs.get("app_version")
    url = report.outputs.get("api_url")
    if version or url:
        lines += [f"App version `{version}` at {url}", ""]
    lines += ["| check | status | time | message |", "| --- | --- | ---: | --- |"]
    for r in report.results:
        lines.append(
            f"| {r.name} | {ICONS[r.status.value]} {r.status.value} | "
            f"{r.duration_s:.2f}s | {_cell(r.message)} |"
        )
    return "\n".join(lines) + "\n"


def write_markdown(report: Report, path: Path) -> Path:
    path.write_text(render_markdown(report))
    return path
