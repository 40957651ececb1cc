"""Report writers: JSON round trip, valid JUnit XML, Markdown summary, self-contained HTML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.model import CheckResult, Report, Status
from verify.reports import write_all
from verify.reports.junit import render_junit

OUTPUTS = {"stack": "dev", "app_version": "v-123", "api_url": "http://127.0.0.1:1/"}


def sample_report(report_dir: Path | None = None) -> Report:
    photos = [
        {
            "file": "a.jpg",
            "kind": "portrait",
            "format": "us",
            "status": 200,
            "input": "images/a-input.jpg",
            "output": "images/a-us.jpg",
            "problems": [],
            "verdict": {
                "width": 600,
                "height": 600,
                "faces": [[1, 2, 3, 4]],
                "border_white": {"top": 1.0},
                "geometry": {
                    "crown": 0.06,
                    "eye": 0.37,
                    "chin": 0.65,
                    "head": 0.59,
                    "eyes_from_bottom": 0.63,
                    "bands": {"head": [0.5, 0.6875], "eyes_from_bottom": [0.5625, 0.6875]},
                },
            },
        },
        {
            "file": "cat.jpg",
            "kind": "no_face",
            "status": 422,
            "input": "images/cat-input.jpg",
            "problems": [],
        },
    ]
    results = [
        CheckResult("readiness", Status.PASSED, 0.5, "ready"),
        CheckResult("ml", Status.PASSED, 2.0, "photos ok", {"photos": photos}),
        CheckResult(
            "dynamodb",
            Status.FAILED,
            0.3,
            "table t: PointInTimeRecoveryStatus expected ENABLED, got DISABLED — check "
            'components/datastore.py; <second> & "third"',
            {"problems": ["a", "b"]},
        ),
        CheckResult("cors", Status.ERROR, 1.0, "timed out after 1s", {"traceback": "tb"}),
        CheckResult("email", Status.SKIPPED, 0.0, "skipped: readiness did not pass"),
    ]
    return Report(
        results,
        wall_s=2.2,
        outputs=OUTPUTS,
        stack="dev",
        report_dir=str(report_dir) if report_dir else None,
    )


def write_images(report_dir: Path) -> None:
    images = report_dir / "images"
    images.mkdir(parents=True)
    for name in ("a-input.jpg", "a-us.jpg", "cat-input.jpg"):
        ok, buf = cv2.imencode(".jpg", np.full((20, 20, 3), 255, np.uint8))
        (images / name).write_bytes(buf.tobytes())


def test_write_all_produces_every_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    summary = tmp_path / "step_summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    write_images(tmp_path)
    report = sample_report(tmp_path)
    paths = write_all(report, tmp_path)

    data = json.loads(paths["json"].read_text())
    assert data["passed"] is False
    assert data["totals"] == {
        "PASSED": 2,
        "FAILED": 1,
        "SKIPPED": 1,
        "ERROR": 1,
        "BLOCKED": 0,
        "total": 5,
    }
    assert data["outputs"] == OUTPUTS
    check = data["checks"][2]
    assert set(check) == {"name", "status", "duration_s", "message", "details", "timestamp"}
    assert check["status"] == "FAILED" and "PointInTimeRecoveryStatus" in check["message"]
    assert Report.from_dict(data).totals == report.totals

    md = paths["markdown"].read_text()
    assert "| dynamodb | ❌ FAILED | 0.30s |" in md
    assert summary.read_text().startswith("# earlier step\n## Verification of `dev`")

    html = paths["html"].read_text()
    assert html.count("data:image/jpeg;base64,") == 3  # input, output, non-face input
    assert "&lt;second&gt; &amp; &quot;third&quot;" in html
    assert "http://" not in html.replace(OUTPUTS["api_url"], "")  # nothing fetched remotely
    for name in ("readiness", "ml", "dynamodb", "cors", "email"):
        assert f"<b>{name}</b>" in html
    # The output photo carries the judge's crown/eye/chin lines over the format's bands.
    assert html.count("<svg") == 1
    for line in ('y1="6.00"', 'y1="37.00"', 'y1="65.00"'):
        assert line in html
    assert "head 59% (band 50%–69%)" in html and "eyes 63% up (band 56%–69%)" in html


def test_junit_structure(tmp_path: Path):
    root = ET.fromstring(render_junit(sample_report()))
    suite = root.find("testsuite")
    assert suite is not None
    assert (
        suite.get("tests"),
        suite.get("failures"),
        suite.get("errors"),
        suite.get("skipped"),
    ) == ("5", "1", "1", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["dynamodb"].find("failure").get("message").startswith("table t: PointInTime")
    assert cases["cors"].find("error") is not None
    assert cases["email"].find("skipped") is not None
    assert cases["readiness"].find("failure") is None and float(cases["ml"].get("time")) == 2.0


@pytest.mark.property("junit.xml is well-formed XML and keeps every check for any message text")
@given(
    messages=st.lists(st.text(), min_size=1, max_size=5),
    statuses=st.lists(st.sampled_from(list(Status)), min_size=5, max_size=5),
)
def test_junit_is_well_formed_for_any_text(messages: list[str], statuses: list[Status]):
    results = [
        CheckResult(f"c{i}", statuses[i % 5], 0.1, m, {"m": m}) for i, m in enumerate(messages)
    ]
    root = ET.fromstring(render_junit(Report(results, wall_s=1.0)))
    cases = root.find("testsuite").findall("testcase")
    assert [c.get("name") for c in cases] == [r.name for r in results]
    for case, result in zip(cases, results, strict=True):
        tag = {"FAILED": "failure", "ERROR": "error", "SKIPPED": "skipped"}.get(result.status)
        assert (case.find(tag) is not None) if tag else not list(case.iter("failure"))


def test_report_verdict_rules():
    def report(*statuses: Status) -> Report:
        return Report([CheckResult(f"c{i}", s, 0, "") for i, s in enumerate(statuses)], 0)

    assert report(Status.PASSED, Status.PASSED).exit_code == 0
    assert report(Status.PASSED, Status.SKIPPED).exit_code == 0
    assert report(Status.PASSED, Status.FAILED).exit_code == 1
    assert report(Status.PASSED, Status.ERROR).exit_code == 1
    assert report(Status.SKIPPED).exit_code == 1  # nothing proved
    assert report().exit_code == 1


results_strategy = st.lists(
    st.builds(
        CheckResult,
        name=st.text(min_size=1, max_size=20),
        status=st.sampled_from(list(Status)),
        duration_s=st.floats(min_value=0, max_value=1e4, allow_nan=False),
        message=st.text(max_size=200),
        details=st.dictionaries(
            st.text(max_size=10), st.integers() | st.text(max_size=20), max_size=3
        ),
    ),
    max_size=8,
)


@pytest.mark.property("verify.json round-trips: a report rebuilt from it has the same verdict")
@given(results=results_strategy)
def test_verify_json_round_trip(results: list[CheckResult]):
    report = Report(results, wall_s=1.5, outputs={"stack": "dev"}, stack="dev")
    data = json.loads(json.dumps(report.to_dict()))
    again = Report.from_dict(data)
    assert again.totals == report.totals
    assert again.passed == report.passed and again.exit_code == report.exit_code
    assert [(r.name, r.status, r.message, r.details) for r in again.results] == [
        (r.name, r.status, r.message, r.details) for r in results
    ]
