"""Team notifications: one message per configured event, with the run's facts, through Apprise
to a real local HTTP sink; a failing channel changes nothing; a channel's URL never leaks.

The runs here are the pipeline's own decisions over a stub engine (tests/support/stub_pipeline):
what goes out for a good and a rolled-back run. The same runs on the sandbox, with a real
deployment behind them, are in test_delivery_sandbox.py.
"""

from __future__ import annotations

import json
import logging
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.bundle import bundle_label
from automation.drift import announce_drift
from automation.notify import RunFacts, TeamNotifier, team_message
from automation.pipeline import ExitCode, Pipeline, VerifyOutcome
from automation.pulumi_engine import PulumiEngine
from automation.records import DeploymentRecord, FileRecordStore
from automation.runconfig import RunConfig
from automation.status import RecordStatus
from automation.wiring import build_pipeline, team_notifier
from common.drift import Drift, DriftReport
from components.config import StackConfigError, parse_stack_config
from components.config.rules_notifications import NOTIFY_EVENTS
from tests.support.notification_sink import Sink, notification_sink
from tests.support.real_path import argv
from tests.support.stack_files import stack_file_config
from tests.support.stand_in_pulumi import calls, install_stand_in, secret
from tests.support.stub_pipeline import Engine, stub_pipeline

#: Where a webhook's token sits in its URL: it must never reach a message, log or report.
TOKEN = "T0KEN-canary-9f3e1d"  # pragma: allowlist secret
GITHUB = {
    "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",  # pragma: allowlist secret
    "GITHUB_ACTOR": "octo-dev",
    "GITHUB_RUN_ID": "424242",
    "GITHUB_REPOSITORY": "acme/passport",
    "GITHUB_SERVER_URL": "https://github.example",
}
RUN_URL = "https://github.example/acme/passport/actions/runs/424242"
PASSED = VerifyOutcome(passed=True, summary={"passed": True})
FAILED = VerifyOutcome(passed=False, summary={"passed": False, "failed": {"api": "500"}})


@pytest.fixture
def sink() -> Iterator[Sink]:
    with notification_sink() as running:
        yield running


@pytest.fixture(autouse=True)
def in_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GITHUB.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def bundle_file(folder: Path, label: str) -> Path:
    path = folder / f"{label}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("application.py", label)
    return path


def pipeline_for(
    tmp_path: Path, verdicts: list[VerifyOutcome], notifier: TeamNotifier
) -> tuple[Pipeline, FileRecordStore]:
    store = FileRecordStore(tmp_path / "records.json")
    old = DeploymentRecord(stack="staging", app_version="v-old", engine="stub")
    old.status, old.started_at = RecordStatus.VERIFIED, time.time() - 3600
    store.save(old)
    pipeline = stub_pipeline(Engine(), tmp_path, bundle_file(tmp_path, "v-new"), store, verdicts[0])
    pipeline.verifier = lambda outputs, report_dir: verdicts.pop(0)
    pipeline.bundle_fetcher = lambda outputs, label: bundle_file(tmp_path, label)
    pipeline.notifier = notifier
    return pipeline, store


def bodies(sink: Sink) -> list[str]:
    return [m["message"] for m in sink.messages()]


def test_a_good_run_sends_started_then_succeeded_with_the_runs_facts(
    tmp_path: Path, sink: Sink
) -> None:
    notifier = TeamNotifier(NOTIFY_EVENTS, lambda: [sink.url(secret=TOKEN)])
    pipeline, _ = pipeline_for(tmp_path, [PASSED], notifier)
    result = pipeline.run()
    assert result.exit_code == ExitCode.OK
    titles = [m["title"] for m in sink.messages()]
    assert titles == ["🚀 staging: started", "✅ staging: succeeded"]
    started, done = bodies(sink)
    for body in (started, done):
        assert "stack: staging" in body and f"version: {result.app_version}" in body
        assert f"commit: {GITHUB['GITHUB_SHA'][:12]}" in body and "actor: octo-dev" in body
        assert f"report: {RUN_URL}" in body
    assert done.splitlines()[0] == f"succeeded: {result.message}"  # outcome + one-line reason
    assert "duration: " in done and "duration: -" not in done
    assert [m["type"] for m in sink.messages()] == ["info", "info"]
    assert notifier.sent == ["started", "succeeded"]


def test_a_rolled_back_run_sends_started_then_rolled_back(tmp_path: Path, sink: Sink) -> None:
    notifier = TeamNotifier(NOTIFY_EVENTS, lambda: [sink.url()])
    pipeline, _ = pipeline_for(tmp_path, [FAILED, PASSED], notifier)
    label = bundle_label(pipeline.bundle_builder())
    result = pipeline.run()
    assert result.exit_code == ExitCode.ROLLED_BACK
    titles = [m["title"] for m in sink.messages()]
    assert titles == ["🚀 staging: started", "↩️ staging: rolled_back"]
    reason = bodies(sink)[1].splitlines()[0]
    assert reason.startswith(f"rolled_back: {label}: verification failed; rolled back to v-old")


def test_only_the_configured_events_go_out(tmp_path: Path, sink: Sink) -> None:
    notifier = TeamNotifier(["rolled_back", "failed"], lambda: [sink.url()])
    pipeline, _ = pipeline_for(tmp_path, [PASSED], notifier)
    assert pipeline.run().exit_code == ExitCode.OK
    assert sink.messages() == [] and notifier.sent == []


@pytest.mark.parametrize("status", [500, None], ids=["refused", "unreachable"])
def test_a_failing_channel_is_logged_and_never_changes_the_exit_code(
    tmp_path: Path, sink: Sink, status: int | None, caplog: pytest.LogCaptureFixture
) -> None:
    url = sink.url(secret=TOKEN)
    if status is None:
        sink.server.shutdown()
        sink.server.server_close()
    else:
        sink.status = status
    notifier = TeamNotifier(NOTIFY_EVENTS, lambda: [url], timeout_s=5)
    pipeline, _ = pipeline_for(tmp_path, [PASSED], notifier)
    with caplog.at_level(logging.DEBUG):
        result = pipeline.run()
    assert result.exit_code == ExitCode.OK and notifier.sent == []
    warnings = [r.getMessage() for r in caplog.records if r.name == "automation.notify"]
    assert "the started notification did not reach every channel (1)" in warnings
    assert "the succeeded notification did not reach every channel (1)" in warnings
    assert not [r for r in caplog.records if TOKEN in r.getMessage()]


def test_the_channel_url_never_reaches_messages_logs_or_reports(
    tmp_path: Path, sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    url = sink.url(secret=TOKEN)
    notifier = TeamNotifier(NOTIFY_EVENTS, lambda: [url])
    pipeline, _ = pipeline_for(tmp_path, [FAILED, PASSED], notifier)
    with caplog.at_level(logging.DEBUG):  # Apprise and urllib3 log the endpoint at DEBUG
        pipeline.run()
        # a reason that quotes the URL (an error message echoing it) is scrubbed too
        facts = RunFacts("staging", "v", "c", "a", "failed", f"POST {url} refused", 1.0, "l")
        assert notifier.send("failed", facts)
    assert len(sink.messages()) == 3 and sink.received[0]["path"].endswith(TOKEN)  # delivered
    assert "failed: POST [secret] refused" in sink.messages()[2]["message"]
    said = [json.dumps(sink.messages())] + [r.getMessage() for r in caplog.records]
    said += [p.read_text() for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".zip"]
    assert len(said) >= 4  # the messages, the records, run.json, the audit log, the index
    assert [text[:200] for text in said if TOKEN in text] == []


def test_a_message_is_one_line_of_outcome_and_reason_then_the_facts() -> None:
    facts = RunFacts("prod", "v-1", "abc", "me", "failed", "check failed:\n  bad", 12.4, "x")
    title, body = team_message("failed", facts)
    assert title == "❌ prod: failed"
    assert body.splitlines() == [
        "failed: check failed: bad",
        "stack: prod",
        "version: v-1",
        "commit: abc",
        "actor: me",
        "duration: 12 s",
        "report: x",
    ]


# -- the setting ------------------------------------------------------------------------------


def config(**keys: object) -> dict:
    raw = stack_file_config("dev")
    return {**raw, **{f"passport-photo-backend:{k}": v for k, v in keys.items()}}


def test_a_bad_url_is_refused_without_quoting_it() -> None:
    with pytest.raises(StackConfigError) as caught:
        parse_stack_config("dev", config(notifications=["json://ok/x", f"slack-{TOKEN}"]))
    (issue,) = caught.value.issues
    assert issue.keys == ("notifications",) and "entry 1 not a URL" in issue.got
    assert TOKEN not in str(caught.value) and "Pulumi secret" in issue.allowed


def test_an_unknown_event_is_named_with_the_allowed_ones() -> None:
    with pytest.raises(StackConfigError) as caught:
        parse_stack_config("dev", config(notifyOn=["started", "deployed"]))
    (issue,) = caught.value.issues
    assert issue.keys == ("notifyOn",) and '"deployed"' in issue.got
    assert "started, succeeded, failed, rolled_back, blocked, interrupted" in issue.allowed


def test_an_encrypted_list_is_accepted_unread_and_problems_only_by_default() -> None:
    parsed = parse_stack_config("dev", config(notifications={"secure": "v1:abc"}))
    assert parsed.notifications.encrypted and parsed.notifications.urls == ()
    assert parsed.notify_on == ("failed", "rolled_back", "blocked", "interrupted")
    assert TOKEN not in repr(parse_stack_config("dev", config(notifications=[f"json://h/{TOKEN}"])))


def test_the_wiring_sends_to_the_stacks_channels_for_its_events(sink: Sink) -> None:
    pipeline = build_pipeline(
        "staging",
        "pulumi",
        config_overrides={
            "notifications": json.dumps([sink.url()]),
            "notifyOn": json.dumps(["started"]),
        },
    )
    assert pipeline.notifier is not None and pipeline.notifier.events == {"started"}
    assert pipeline.notifier.urls() == [sink.url()]
    assert build_pipeline("staging", "pulumi").notifier is None  # none configured


def test_an_encrypted_list_the_engine_cannot_decrypt_turns_notifications_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_config = RunConfig("dev", {"passport-photo-backend:notifications": {"secure": "v1:x"}})
    engine = build_pipeline("dev", "sandbox", state_root=tmp_path).engine
    notifier = team_notifier(run_config, engine)
    assert notifier is not None
    facts = RunFacts("dev", "v", "c", "a", "failed", "r", 1.0, "l")
    with caplog.at_level(logging.WARNING):
        assert notifier.send("failed", facts) is False
    assert "the sandbox cannot decrypt Pulumi secrets" in caplog.text


def test_drift_found_is_a_failed_event_naming_what_drifted(tmp_path: Path, sink: Sink) -> None:
    notifier = TeamNotifier(["failed"], lambda: [sink.url()])
    pipeline, _ = pipeline_for(tmp_path, [PASSED], notifier)
    drift = Drift("artifacts", "aws:s3/bucketVersioning:BucketVersioning", "status", "A", "B")
    assert announce_drift(pipeline, DriftReport(drifts=[drift], checked=4))
    assert not announce_drift(pipeline, DriftReport(checked=4))  # none: nothing sent
    (message,) = sink.messages()
    assert message["title"] == "❌ staging: drift"
    assert message["message"].splitlines()[0] == (
        "drift: 1 properties differ from the stack's state: artifacts "
        "(aws:s3/bucketVersioning:BucketVersioning): status: declared 'A', found 'B'"
    )


def test_an_encrypted_list_is_decrypted_through_the_pulumi_cli_at_the_first_message(
    tmp_path: Path, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stack file holds `{secure: …}`; `pulumi config get` (the recording stand-in, which
    answers as the secrets provider would) gives the list, only when a message goes out."""
    for key, value in install_stand_in(tmp_path, stacks=["staging"]).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "stand-in")
    url = sink.url(secret=TOKEN)
    secret(tmp_path, "staging", "passport-photo-backend:notifications", json.dumps([url]))
    run_config = RunConfig(
        "staging", {"passport-photo-backend:notifications": {"secure": "v1:encrypted"}}
    )
    notifier = team_notifier(run_config, PulumiEngine("staging", run_config=run_config))
    assert notifier is not None and not calls(tmp_path)  # nothing asked yet
    facts = RunFacts("staging", "v", "c", "a", "failed", "r", 1.0, "l")
    assert notifier.send("failed", facts)
    gets = [argv(c) for c in calls(tmp_path) if "get" in c["argv"]]
    assert gets and gets[0][:3] == ["config", "get", "passport-photo-backend:notifications"]
    (message,) = sink.messages()
    assert message["title"] == "❌ staging: failed" and sink.received[0]["path"].endswith(TOKEN)
