"""verify against a real sandbox deployment (moto + the app under gunicorn).

One deployment for the module: the good run must pass every check; then each fault is
introduced the way it would happen to a real stack, the check that guards it must fail with a
message naming the problem, and the fault is undone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

import verify
from common.paths import ROOT, StackPaths
from sandbox.engine import SandboxEngine
from sandbox.moto_server import free_port
from tests.support.broken_app import OPEN_CORS, WRONG_US_SIZE, broken_app
from verify.model import Report, Status
from verify.outputs import load_sandbox

pytestmark = pytest.mark.slow

STACK = "dev"


@dataclass
class Deployment:
    outputs: dict[str, Any]
    aws_endpoint: str

    def client(self, service: str) -> Any:
        return boto3.client(
            service, region_name=self.outputs["region"], endpoint_url=self.aws_endpoint
        )

    def with_outputs(self, **changes: Any) -> dict[str, Any]:
        return {**self.outputs, **changes}


@pytest.fixture(scope="module")
def deployment(state_root: Path) -> Iterator[Deployment]:
    """The dev stack deployed by the sandbox engine; boto3 pointed at its moto for the module."""
    engine = SandboxEngine(STACK, state_root=state_root)
    try:
        engine.up()
        outputs, env = load_sandbox(STACK, state_root)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            yield Deployment(outputs, env["AWS_ENDPOINT_URL"])
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    finally:
        engine.destroy()


def only(outputs: dict[str, Any], *names: str, **kwargs: Any) -> Report:
    return verify.run(outputs, only=names, **kwargs)


def failed(report: Report, name: str) -> str:
    result = report.result(name)
    assert result.status is Status.FAILED, f"{name}: {result.status} {result.message}"
    return result.message


# --- the good deployment ------------------------------------------------------------------


def test_good_deployment_passes_every_check(
    deployment: Deployment, state_root: Path, tmp_path: Path
):
    argv = ["--stack", STACK, "--engine", "sandbox", "--state-root", str(state_root)]
    # A latency budget a loaded CI machine meets: this test proves every check passes on a good
    # deployment, not this machine's speed (the budget is tested by
    # test_app_slower_than_budget_fails_performance below).
    outputs_file = StackPaths(state_root, STACK).outputs
    committed = outputs_file.read_text()
    outputs_file.write_text(json.dumps({**json.loads(committed), "latency_budget_ms": 60_000}))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "verify", *argv, "--report-dir", str(tmp_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        outputs_file.write_text(committed)
    report = json.loads((tmp_path / "verify.json").read_text())
    statuses = {c["name"]: (c["status"], c["message"]) for c in report["checks"]}
    assert proc.returncode == 0, f"{statuses}\n{proc.stderr[-3000:]}"
    # Every check of the default set (opt-in ones such as `load` only when the stack asks).
    assert set(statuses) == {c.name for c in verify.checks.all_checks() if c.opt_in is None}
    assert all(status == "PASSED" for status, _ in statuses.values())
    assert proc.stdout.strip() == f"report: {tmp_path / 'report.html'}"
    assert "▶ readiness started" in proc.stderr  # progress on the terminal

    # reports: JUnit parses with one passing case per check; the HTML shows the photos
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite.get("tests") == str(len(statuses)) and suite.get("failures") == "0"
    ml = next(c for c in report["checks"] if c["name"] == "ml")
    outputs_made = [p["output"] for p in ml["details"]["photos"] if p.get("output")]
    assert len(outputs_made) >= 6  # the portraits in each of their formats
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/jpeg;base64,") >= len(outputs_made) * 2
    assert report["outputs"]["app_version"] == deployment.outputs["app_version"]

    # nothing verify wrote is left behind
    ddb = deployment.client("dynamodb")
    for table, key in (
        (deployment.outputs["email_table"], "email"),
        (deployment.outputs["analytics_table"], "event_id"),
    ):
        keys = [i[key]["S"] for i in ddb.scan(TableName=table)["Items"]]
        assert not [k for k in keys if k.startswith(("verify-probe#", "success+verify-"))]
    s3 = deployment.client("s3")
    for bucket in (deployment.outputs["artifact_bucket"], deployment.outputs["media_bucket"]):
        listing = s3.list_object_versions(Bucket=bucket, Prefix="verify-probe/")
        assert not listing.get("Versions") and not listing.get("DeleteMarkers")


# --- faults in AWS resources ----------------------------------------------------------------


def test_deleted_table_fails_dynamodb(deployment: Deployment):
    ddb = deployment.client("dynamodb")
    table = deployment.outputs["analytics_table"]
    desc = ddb.describe_table(TableName=table)["Table"]
    ddb.delete_table(TableName=table)
    try:
        message = failed(only(deployment.outputs, "dynamodb"), "dynamodb")
        assert f"table {table}: expected to exist, got ResourceNotFoundException" in message
    finally:
        ddb.create_table(
            TableName=table,
            KeySchema=desc["KeySchema"],
            AttributeDefinitions=desc["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
            SSESpecification={"Enabled": True, "SSEType": "KMS"},
        )
        ddb.update_continuous_backups(
            TableName=table,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
        ddb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
        )
    assert only(deployment.outputs, "dynamodb").passed


def test_pitr_off_fails_dynamodb(deployment: Deployment):
    ddb = deployment.client("dynamodb")
    table = deployment.outputs["email_table"]
    spec = "PointInTimeRecoverySpecification"
    ddb.update_continuous_backups(TableName=table, **{spec: {"PointInTimeRecoveryEnabled": False}})
    try:
        message = failed(only(deployment.outputs, "dynamodb"), "dynamodb")
        assert (
            f"table {table}: PointInTimeRecoveryStatus: expected ENABLED, got DISABLED — "
            "check components/datastore.py"
        ) in message
    finally:
        ddb.update_continuous_backups(
            TableName=table, **{spec: {"PointInTimeRecoveryEnabled": True}}
        )


def test_public_access_block_removed_fails_s3(deployment: Deployment):
    s3 = deployment.client("s3")
    bucket = deployment.outputs["media_bucket"]
    saved = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration={**saved, "RestrictPublicBuckets": False}
    )
    try:
        message = failed(only(deployment.outputs, "s3"), "s3")
        assert (
            f"bucket {bucket}: public access block: expected all four True, got "
            "RestrictPublicBuckets not set"
        ) in message
    finally:
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=saved)


def test_sender_identity_removed_fails_ses_and_email(deployment: Deployment):
    ses = deployment.client("ses")
    sender = deployment.outputs["sender_email"]
    ses.delete_identity(Identity=sender)
    try:
        report = only(deployment.outputs, "ses", "email")
        assert f"SES identity {sender}" in failed(report, "ses")
        assert "POST /api/v1/email/validate: expected HTTP 202" in failed(report, "email")
    finally:
        ses.verify_email_identity(EmailAddress=sender)


def test_alarm_in_alarm_state_fails_monitoring(deployment: Deployment):
    cw = deployment.client("cloudwatch")
    topic = deployment.outputs["alarm_topic_arn"]
    alarm = next(
        a["AlarmName"]
        for a in cw.describe_alarms()["MetricAlarms"]
        if topic in a.get("AlarmActions", [])
    )
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="verify fault test")
    try:
        message = failed(only(deployment.outputs, "monitoring"), "monitoring")
        assert f"alarms in state ALARM: expected none, got {alarm}" in message
    finally:
        cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="restored")


def test_alarm_on_a_metric_nothing_publishes_fails_monitoring(deployment: Deployment):
    """The app's rejected-requests alarm is only as good as the log filter feeding it."""
    logs = deployment.client("logs")
    env = deployment.outputs["environment_name"]
    group = f"/aws/elasticbeanstalk/{env}/var/log/web.stdout.log"
    (flt,) = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    logs.delete_metric_filter(logGroupName=group, filterName=flt["filterName"])
    try:
        message = failed(only(deployment.outputs, "monitoring"), "monitoring")
        assert "alarms on custom metrics without a metric filter publishing them" in message
        assert f"(PassportPhoto/{env} RejectedRequests)" in message
    finally:
        logs.put_metric_filter(
            logGroupName=group,
            filterName=flt["filterName"],
            filterPattern=flt["filterPattern"],
            metricTransformations=flt["metricTransformations"],
        )


# --- faults in what the app serves -----------------------------------------------------------


def test_another_version_serving_fails_health(deployment: Deployment):
    outputs = deployment.with_outputs(app_version="v-000000000000")
    message = failed(only(outputs, "health"), "health")
    assert (
        f"GET /health app version: expected 'v-000000000000', got "
        f"'{deployment.outputs['app_version']}'"
    ) in message


def test_upload_limit_differs_fails_api(deployment: Deployment):
    # The stack says 1 MB; the app still accepts its configured, larger limit.
    outputs = deployment.with_outputs(max_upload_mb=1)
    message = failed(only(outputs, "api"), "api")
    assert "(over max_upload_mb): expected HTTP 413 with error code payload_too_large" in message


def test_app_slower_than_budget_fails_performance(deployment: Deployment):
    message = failed(
        only(deployment.with_outputs(latency_budget_ms=1), "performance"), "performance"
    )
    assert "p95: expected ≤ 1 ms" in message


def test_unreachable_app_fails_readiness_and_skips_app_checks(deployment: Deployment):
    outputs = deployment.with_outputs(api_url=f"http://127.0.0.1:{free_port()}")
    report = only(outputs, "health", "dynamodb", check_timeouts={"readiness": 3})
    assert "could not connect" in failed(report, "readiness")
    assert report.result("health").status is Status.SKIPPED
    assert report.result("dynamodb").ok  # AWS-only checks still run
    assert report.exit_code == 1


def test_cors_open_to_every_origin_fails_cors(deployment: Deployment, tmp_path: Path):
    with broken_app(
        deployment.outputs, deployment.aws_endpoint, tmp_path, entry_source=OPEN_CORS
    ) as url:
        message = failed(only(deployment.with_outputs(api_url=url), "cors"), "cors")
    assert (
        "preflight from disallowed origin https://verify-probe.invalid: expected no "
        "Access-Control-Allow-Origin, got 'https://verify-probe.invalid'"
    ) in message


def test_model_missing_fails_readiness_naming_the_model(deployment: Deployment, tmp_path: Path):
    with broken_app(
        deployment.outputs,
        deployment.aws_endpoint,
        tmp_path,
        env={"U2NET_HOME": str(tmp_path / "no-models")},
    ) as url:
        report = only(deployment.with_outputs(api_url=url), "ml", check_timeouts={"readiness": 20})
    message = failed(report, "readiness")
    assert "the app reports unhealthy (model u2netp not loaded)" in message
    assert report.result("ml").status is Status.SKIPPED


def test_wrong_photo_geometry_fails_ml(deployment: Deployment, tmp_path: Path):
    with broken_app(
        deployment.outputs, deployment.aws_endpoint, tmp_path, entry_source=WRONG_US_SIZE
    ) as url:
        report = only(deployment.with_outputs(api_url=url), "ml", report_dir=tmp_path / "r")
    message = failed(report, "ml")
    assert "astronaut.jpg (us): size expected 600×600, got 560×600" in message
    assert "(eu)" not in message  # the EU format was not touched
    assert "astronaut.jpg → US 560×600" in (tmp_path / "r" / "report.html").read_text()
