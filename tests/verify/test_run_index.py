"""reports/<stack>/index.html: every run folder listed with its stages, checks and a trend."""

from __future__ import annotations

import json
from pathlib import Path

from verify.reports.index import load_runs, write_index


def run_folder(root: Path, name: str, started: float, status: str, ml_s: float | None) -> None:
    folder = root / name
    (folder / "verify").mkdir(parents=True)
    stages = [{"stage": "up", "duration_s": 9.5}, {"stage": "verify", "duration_s": 30.0}]
    (folder / "run.json").write_text(
        json.dumps(
            {
                "command": "run",
                "status": status,
                "exit_code": 0 if status == "succeeded" else 3,
                "app_version": f"v-{name}",
                "rollback_version": "v-old" if status == "rolled_back" else None,
                "started_at": started,
                "stages": stages,
            }
        )
    )
    checks = [{"name": "health", "duration_s": 0.1, "status": "PASSED"}]
    if ml_s is not None:
        checks.append({"name": "ml", "duration_s": ml_s, "status": "PASSED"})
    (folder / "verify" / "verify.json").write_text(json.dumps({"checks": checks}))


def test_index_lists_runs_newest_first_with_trend_and_links(tmp_path: Path) -> None:
    run_folder(tmp_path, "r1", 100.0, "succeeded", 10.0)
    run_folder(tmp_path, "r2", 200.0, "rolled_back", 12.0)
    run_folder(tmp_path, "r3", 300.0, "succeeded", 20.0)  # ml twice as slow as before
    (tmp_path / "not-a-run").mkdir()
    runs = load_runs(tmp_path)
    assert [r["folder"] for r in runs] == ["r3", "r2", "r1"]
    html = write_index(tmp_path, "dev").read_text()
    assert html.index("v-r3") < html.index("v-r2") < html.index("v-r1")
    assert "rolled_back" in html and "v-old" in html
    assert 'href="r3/verify/report.html"' in html and 'href="r3/pipeline.jsonl"' in html
    assert "<polyline" in html  # the trend
    ml_row = html[html.index("<td>ml</td>") :].split("</tr>")[0]
    assert "20.0s" in ml_row and "12.0s" in ml_row  # latest vs (upper) median of the earlier
