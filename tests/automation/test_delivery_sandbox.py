"""Team notifications and delivery metrics after real runs on the sandbox (moto + the app).

One dev stack for the module, two runs in order: a good one (verified) and a regression that
deploys, fails verify and is rolled back (the rollback verifies: the restore). A local HTTP
sink, configured as the stack's channel, receives one message per configured event of each;
then `automation metrics` prints the figures those runs imply, and the run index shows them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from automation.notify import TeamNotifier
from automation.pipeline import ExitCode, Pipeline
from automation.records import FileRecordStore
from automation.status import RecordKind, RecordStatus
from automation.wiring import build_pipeline
from common.contracts import DEPLOYMENTS_NAMESPACE
from components.config.rules_notifications import NOTIFY_EVENTS
from sandbox.app_variants import build_variant, photo_endpoint_fails
from tests.support.cli_runner import run_module
from tests.support.notification_sink import Sink, notification_sink
from tests.support.sandbox_stacks import QUICK_VERIFY
from verify.aws import make_client

pytestmark = pytest.mark.slow

STACK = "dev"
TOKEN = "hook-token-canary-51c2"  # pragma: allowlist secret


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    with notification_sink() as running:
        yield running


def pipeline(state_root: Path, reports: Path, sink: Sink) -> Pipeline:
    built = build_pipeline(
        STACK, "sandbox", state_root=state_root, report_root=reports, verify_only=QUICK_VERIFY
    )
    built.checks = lambda: []  # the check stage has its own tests; these are about the runs
    built.notifier = TeamNotifier(NOTIFY_EVENTS, lambda: [sink.url(secret=TOKEN)])
    return built


@pytest.fixture(scope="module")
def runs(state_root: Path, sink: Sink, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    reports = tmp_path_factory.mktemp("reports") / STACK
    good = pipeline(state_root, reports, sink).run()
    assert good.exit_code == ExitCode.OK, good.to_dict()
    after_good = len(sink.messages())
    broken = build_variant(tmp_path_factory.mktemp("broken"), photo_endpoint_fails)
    bad_pipeline = pipeline(state_root, reports, sink)
    bad_pipeline.bundle_builder = lambda: broken
    bad = bad_pipeline.run()
    assert bad.exit_code == ExitCode.ROLLED_BACK, bad.to_dict()
    return {"good": good, "bad": bad, "after_good": after_good, "reports": reports}


def test_a_good_and_a_rolled_back_run_each_send_one_message_per_event(
    runs: dict[str, Any], sink: Sink
) -> None:
    messages = sink.messages()
    titles = [m["title"] for m in messages]
    assert titles == [
        "🚀 dev: started",
        "✅ dev: succeeded",
        "🚀 dev: started",
        "↩️ dev: rolled_back",
    ]
    assert runs["after_good"] == 2
    good, bad = runs["good"], runs["bad"]
    done = messages[1]["message"].splitlines()
    assert done[0] == f"succeeded: {good.message}" and f"version: {good.app_version}" in done
    rolled = messages[3]["message"].splitlines()
    assert rolled[0].startswith("rolled_back: ") and "verification failed" in rolled[0]
    assert f"rolled back to {good.app_version}" in rolled[0]
    for message in messages:
        lines = message["message"].splitlines()
        assert "stack: dev" in lines and any(x.startswith("commit: ") for x in lines)
        assert any(x.startswith("actor: ") for x in lines)
        assert any(x.startswith("report: ") and runs["reports"].name in x for x in lines)
    assert all(x.startswith("duration: ") and x != "duration: -" for x in (done[5], rolled[5]))
    assert TOKEN not in json.dumps(messages) and all(
        h["path"].endswith(TOKEN) for h in sink.received
    )
    assert bad.rollback_version == good.app_version


def test_metrics_print_the_figures_the_runs_imply(runs: dict[str, Any], state_root: Path) -> None:
    records = FileRecordStore(state_root / ".records" / f"{STACK}.json").list()
    deploys = [r for r in records if r.kind == RecordKind.DEPLOY]
    (verified,) = [r for r in deploys if r.status == RecordStatus.VERIFIED]
    (failed,) = [r for r in deploys if r.status == RecordStatus.ROLLED_BACK]
    (restore,) = [r for r in records if r.kind == RecordKind.ROLLBACK]
    assert verified.commit_time and restore.status == RecordStatus.VERIFIED

    args = ("--stack", STACK, "--state-root", str(state_root), "--report-dir", str(runs["reports"]))
    result = run_module("automation", "metrics", *args, "--min-samples", "1", "--json", timeout=300)
    assert result.returncode == ExitCode.OK, result.stderr
    keys = json.loads(result.stdout)["four_keys"]
    assert keys["deploys"] == 2
    assert keys["deployment_frequency"]["count"] == 1
    assert keys["change_failure_rate"]["value"] == 0.5
    assert keys["change_failure_rate"]["band"] == "more than 45 %"
    assert keys["change_failure_rate"]["extra"]["failures"] == 1
    lead = keys["lead_time_s"]
    assert lead["count"] == 1
    assert lead["value"] == pytest.approx(verified.finished_at - verified.commit_time)
    ttr = keys["time_to_restore_s"]
    assert ttr["count"] == 1 and ttr["extra"]["unrestored"] == 0
    assert ttr["value"] == pytest.approx(restore.finished_at - failed.started_at)
    health = json.loads(result.stdout)["pipeline_health"]
    assert (health["runs"], health["succeeded"]) == (2, 1)
    assert {s["stage"] for s in health["stages"]} >= {"preview", "up", "verify", "rollback"}

    text = run_module("automation", "metrics", *args, timeout=300)  # default: 3 samples
    assert text.returncode == ExitCode.OK, text.stderr
    assert "change failure rate: too few deployments (2; a figure needs 3)" in text.stdout
    assert "pipeline health: 1 of 2 runs succeeded (50 %)" in text.stdout


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def test_the_run_index_shows_the_figures(runs: dict[str, Any], state_root: Path) -> None:
    args = ("--stack", STACK, "--state-root", str(state_root), "--report-dir", str(runs["reports"]))
    assert run_module("automation", "metrics", *args, "--min-samples", "1").returncode == 0
    page = _Text()
    page.feed((runs["reports"] / "index.html").read_text())
    text = " ".join(" ".join(page.parts).split())
    assert "Delivery over the last 30d (2 deployments; DORA four keys)" in text
    assert "change failure rate 50 % more than 45 % 1 failed of 2" in text
    assert "time to restore (median)" in text and "1 restored, 0 not yet" in text
    assert "Pipeline health: 1 of 2 runs succeeded (50 %)" in text
    assert "Per week" in text


def test_the_dashboard_is_realised_and_shows_the_runs_deployment_metrics(
    runs: dict[str, Any], state_root: Path
) -> None:
    engine = build_pipeline(STACK, "sandbox", state_root=state_root).engine
    outputs = engine.outputs()
    name = outputs["dashboard_url"].rsplit("/", 1)[-1]
    cloudwatch = make_client("cloudwatch", engine.aws_env)
    body = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
    shown = [
        metric
        for widget in body["widgets"]
        for metric in widget["properties"]["metrics"]
        if metric[0] == DEPLOYMENTS_NAMESPACE
    ]
    assert len(shown) == 3
    for namespace, metric, *dims in shown:  # each has the two runs' data points in moto
        stats = cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[{"Name": dims[0], "Value": dims[1]}],
            StartTime=runs["good"].started_at - 60,
            EndTime=time.time() + 60,
            Period=3600,
            Statistics=["SampleCount"],
        )
        assert sum(p["SampleCount"] for p in stats["Datapoints"]) == 2, metric
