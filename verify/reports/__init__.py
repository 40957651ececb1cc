"""Report writers. `write_all` is what the CLI and `verify.run` use."""

from __future__ import annotations

import os
from pathlib import Path

from verify.model import Report
from verify.reports.html import write_html
from verify.reports.json_report import write_json
from verify.reports.junit import write_junit
from verify.reports.markdown import render_markdown, write_markdown


def write_all(report: Report, report_dir: Path) -> dict[str, Path]:
    """verify.json, junit.xml, summary.md, report.html; summary also to $GITHUB_STEP_SUMMARY."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    report.report_dir = str(report_dir)
    paths = {
        "json": write_json(report, report_dir / "verify.json"),
        "junit": write_junit(report, report_dir / "junit.xml"),
        "markdown": write_markdown(report, report_dir / "summary.md"),
        "html": write_html(report, report_dir / "report.html"),
    }
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as fh:
            fh.write(render_markdown(report) + "\n")
    return paths


__all__ = ["write_all", "write_json", "write_junit", "write_markdown", "write_html"]
