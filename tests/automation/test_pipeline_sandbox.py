"""The pipeline for real against the sandbox: moto, the app under gunicorn, real bundles, verify.

One sandbox dev stack (in a private state folder) serves the whole module, in deployment order:
a good run; a regression that deploys fine but fails verification and is rolled back
automatically (with customer data intact, a metric and an SNS notice read back from moto); a
named rollback; and retries of transient engine failures. Only the engine fault injection is a
wrapper: everything behind it is the real sandbox.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from app.bundle import bundle_label
from automation.errors import PipelineError, TransientError
from automation.pipeline import ExitCode
from automation.records import FileRecordStore
from automation.sandbox_engine import SandboxAdapter
from automation.wiring import build_pipeline
from policy.rules import S3_PAB, evaluate, resources_from_sandbox
from sandbox.app_variants import build_variant, new_version, photo_endpoint_fails
from tests.support.cli_runner import run_module
from tests.support.sandbox_stacks import QUICK_VERIFY
from verify.aws import make_client

pytestmark = pytest.mark.slow

STACK = "dev"
#: Secrets a CI job holds in its environment; none may reach a log, report, record or output.
SECRET_CANARIES = {
    "PULUMI_ACCESS_TOKEN": "pul-canary-7d41c0ffee",  # pragma: allowlist secret
    "PULUMI_CONFIG_PASSPHRASE": "passphrase-canary-5e9a",  # pragma: allowlist secret
    "AWS_SECRET_ACCESS_KEY": "aws-secret-canary-0b3d",  # pragma: allowlist secret
}


@pytest.fixture(scope="module", autouse=True)
def no_aws_or_pulumi_variable_left_behind() -> Iterator[None]:
    """The pipeline also runs in this process: it must leave no AWS_/PULUMI_ variable set."""
    saved = dict(os.environ)
    yield
    changed = {k for k in os.environ.keys() | saved.keys() if os.environ.get(k) != saved.get(k)}
    assert not {k for k in changed if k.startswith(("AWS_", "PULUMI_"))}, changed


def cli(
    state_root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return run_module(
        "automation",
        *args,
        "--stack",
        STACK,
        "--engine",
        "sandbox",
        "--state-root",
        str(state_root),
        env={**os.environ, **(env or {})},
        timeout=900,
    )


def serving_version(outputs: dict[str, Any]) -> str:
    return requests.get(f"{outputs['api_url']}/health", timeout=10).json()["version"]


def records(state_root: Path) -> list[Any]:
    return FileRecordStore(state_root / ".records" / f"{STACK}.json").list()


@pytest.fixture(scope="module")
def good(state_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`python -m automation run` on a fresh stack: every stage, full verification."""
    gh = tmp_path_factory.mktemp("github")
    env = {
        "GITHUB_OUTPUT": str(gh / "output"),
        "GITHUB_STEP_SUMMARY": str(gh / "summary.md"),
        **SECRET_CANARIES,
    }
    result = cli(state_root, "run", "--json", "--report-dir", str(gh / "reports"), env=env)
    assert result.returncode == ExitCode.OK, result.stdout[-3000:] + result.stderr[-5000:]
    payload = json.loads(result.stdout)
    return {"payload": payload, "stdout": result.stdout, "stderr": result.stderr, "github": gh}


def test_a_good_deployment_passes_run(good: dict[str, Any], state_root: Path) -> None:
    payload = good["payload"]
    assert payload["status"] == "succeeded"
    assert payload["verify"]["totals"]["PASSED"] == payload["verify"]["totals"]["total"] >= 11
    assert [s["stage"] for s in payload["stages"]] == ["check", "preview", "up", "verify"]
    assert all(s["status"] == "succeeded" for s in payload["stages"])
    assert serving_version({"api_url": payload["api_url"]}) == payload["app_version"]
    (record,) = [r for r in records(state_root) if r.id == payload["deployment_id"]]
    assert record.status == "verified" and record.app_version == payload["app_version"]
    assert record.commit and record.verify_summary["passed"] is True
    # every stage logged as a JSON line with the deployment id
    lines = [json.loads(x) for x in good["stderr"].splitlines() if x.startswith('{"time"')]
    assert {(x["stage"], x["status"]) for x in lines} >= {("up", "succeeded"), ("run", "succeeded")}
    assert {x["deployment_id"] for x in lines} == {payload["deployment_id"]}
    # GitHub Actions outputs and step summary
    output = (good["github"] / "output").read_text()
    assert f"app_version={payload['app_version']}\n" in output and "status=succeeded\n" in output
    assert f"api_url={payload['api_url']}\n" in output
    assert "succeeded" in (good["github"] / "summary.md").read_text()
    assert (Path(payload["report_dir"]) / "junit.xml").exists()


def test_a_pipe_gets_json_lines_only(good: dict[str, Any]) -> None:
    """`make demo | tee log` (stderr not a terminal): every line is JSON, verify's progress too.

    The run above is `--json` into pipes; without `--json` a pipe takes the same path (the
    reporter is human only on a terminal), so this is also what `make demo` into a pipe prints.
    """
    said = [line for line in good["stderr"].splitlines() if line.strip()]
    not_json = []
    for line in said:
        try:
            json.loads(line)
        except ValueError:
            not_json.append(line)
    assert not not_json, not_json[:10]
    sources = {json.loads(line).get("source") for line in said}
    assert "verify" in sources, sources  # verify's progress came through the reporter
    assert json.loads(good["stdout"])["command"] == "run"  # stdout: the result alone


def test_policy_rules_judge_the_deployed_sandbox_graph(
    good: dict[str, Any], state_root: Path
) -> None:
    """The check stage's policy finding, and the same rules over the graph the run deployed."""
    (policy,) = [f for f in good["payload"]["findings"] if f["name"] == "policy"]
    assert policy["ok"], policy["message"]
    graph = json.loads((state_root / STACK / "sandbox.json").read_text())["resources"]
    resources = resources_from_sandbox(graph)
    types = [r.type for r in resources]
    assert types.count("aws:s3/bucket:Bucket") == 2 and types.count("aws:dynamodb/table:Table") == 2
    assert "aws:elasticbeanstalk/environment:Environment" in types and not evaluate(resources)
    unblocked = [r for r in resources if r.type != S3_PAB]
    fired = {v.rule for v in evaluate(unblocked)}
    assert fired == {"s3-public-access-block"}


def test_no_secret_reaches_logs_reports_records_or_outputs(
    good: dict[str, Any], state_root: Path
) -> None:
    written = [good["stdout"], good["stderr"]]
    for folder in (good["github"], state_root / STACK):
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix not in (".zip", ".onnx", ".jpg", ".png"):
                written.append(path.read_text(errors="replace"))
    assert len(written) > 8  # reports, GitHub output/summary, records, sandbox state, logs
    for name, value in SECRET_CANARIES.items():
        leaks = [text[max(0, text.find(value) - 80) :][:160] for text in written if value in text]
        assert not leaks, f"{name} leaked: {leaks}"


def test_a_regression_is_rolled_back_automatically(
    good: dict[str, Any], state_root: Path, tmp_path: Path
) -> None:
    previous = good["payload"]["app_version"]
    pipeline = build_pipeline(
        STACK,
        "sandbox",
        state_root=state_root,
        report_root=tmp_path / "reports",
        verify_only=QUICK_VERIFY,
    )
    outputs = pipeline.engine.outputs()
    aws_env = pipeline.engine.aws_env  # the sandbox's moto, named explicitly
    dynamodb = make_client("dynamodb", aws_env)
    customer = {
        "email": {"S": "customer@example.com"},
        "status": {"S": "verified"},
        "token": {"S": "kept-token"},
        "created_at": {"N": str(int(time.time()))},
    }
    dynamodb.put_item(TableName=outputs["email_table"], Item=customer)
    sqs = make_client("sqs", aws_env)
    queue = sqs.create_queue(QueueName="oncall-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    make_client("sns", aws_env).subscribe(
        TopicArn=outputs["alarm_topic_arn"], Protocol="sqs", Endpoint=queue_arn
    )

    broken = build_variant(tmp_path / "broken", photo_endpoint_fails)
    pipeline.bundle_builder = lambda: broken
    result = pipeline.run()

    assert result.exit_code == ExitCode.ROLLED_BACK, result.to_dict()
    assert result.status == "rolled_back" and result.rollback_version == previous
    assert "verification failed" in result.message and bundle_label(broken) in result.message
    assert serving_version(outputs) == previous
    # the data written before the bad deploy is still there
    item = dynamodb.get_item(TableName=outputs["email_table"], Key={"email": customer["email"]})
    assert item["Item"] == customer
    # records: the bad version is marked rolled back; the rollback itself verified
    by_version = {(r.app_version, r.kind): r for r in records(state_root)}
    bad = by_version[(bundle_label(broken), "deploy")]
    assert bad.status == "rolled_back" and bad.rollback_version == previous
    assert bad.verify_summary["passed"] is False and "api" in bad.verify_summary["failed"]
    assert by_version[(previous, "rollback")].status == "verified"
    # the on-call got an SNS notice, and the rollback is a metric
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2)
    notices = [json.loads(m["Body"]) for m in messages.get("Messages", [])]
    assert any("rolled_back" in n.get("Subject", "") for n in notices), notices
    body = json.loads(next(n for n in notices if "rolled_back" in n["Subject"])["Message"])
    assert body["rollback_version"] == previous and body["stack"] == STACK
    stats = make_client("cloudwatch", aws_env).get_metric_statistics(
        Namespace="PassportPhoto/Deployments",
        MetricName="DeploymentRollbacks",
        Dimensions=[{"Name": "Stack", "Value": STACK}],
        StartTime=time.time() - 3600,
        EndTime=time.time() + 60,
        Period=3600,
        Statistics=["Sum"],
    )
    assert sum(p["Sum"] for p in stats["Datapoints"]) >= 1


def test_rollback_to_a_named_version(
    good: dict[str, Any], state_root: Path, tmp_path: Path
) -> None:
    first = good["payload"]["app_version"]
    newer = build_variant(tmp_path / "newer", new_version)
    pipeline = build_pipeline(STACK, "sandbox", state_root=state_root)
    outputs, _ = pipeline.up(newer)
    assert serving_version(outputs) == bundle_label(newer) != first

    result = cli(
        state_root,
        "rollback",
        "--to",
        first,
        "--json",
        "--only",
        "readiness,health",
        "--report-dir",
        str(tmp_path / "reports"),
    )
    assert result.returncode == ExitCode.OK, result.stdout[-2000:] + result.stderr[-3000:]
    payload = json.loads(result.stdout)
    assert payload["status"] == "succeeded" and payload["app_version"] == first
    assert serving_version(outputs) == first


class FlakyEngine:
    """The real sandbox engine, with failures injected into `up` (the issue's fault injection)."""

    def __init__(self, inner: SandboxAdapter, failures: list[BaseException]) -> None:
        self.inner, self.failures, self.up_calls = inner, failures, 0
        self.name, self.stack, self.state_dir = inner.name, inner.stack, inner.state_dir

    def up(self, bundle: Path | None = None) -> dict[str, Any]:
        self.up_calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.inner.up(bundle)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_transient_engine_failures_are_retried(
    good: dict[str, Any], state_root: Path, tmp_path: Path
) -> None:
    engine = FlakyEngine(
        SandboxAdapter(STACK, state_root=state_root),
        [TransientError("stack 'dev' is locked by another update"), TransientError("throttled")],
    )
    sleeps: list[float] = []
    pipeline = build_pipeline(
        STACK,
        "sandbox",
        engine=engine,
        report_root=tmp_path,
        verify_only=["readiness", "health"],
        sleep=sleeps.append,
    )
    outputs, result = pipeline.up()
    assert engine.up_calls == 3 and len(sleeps) == 2
    assert sleeps[1] > sleeps[0] * 0.5  # backoff grows (with ±50% jitter)
    assert result.status == "succeeded" and serving_version(outputs) == outputs["app_version"]


def test_a_permanent_engine_failure_fails_fast(
    good: dict[str, Any], state_root: Path, tmp_path: Path
) -> None:
    engine = FlakyEngine(
        SandboxAdapter(STACK, state_root=state_root),
        [PipelineError("aws:s3/bucket:Bucket media: BucketAlreadyOwnedByYou")],
    )
    sleeps: list[float] = []
    pipeline = build_pipeline(
        STACK, "sandbox", engine=engine, report_root=tmp_path, sleep=sleeps.append
    )
    with pytest.raises(PipelineError, match="BucketAlreadyOwnedByYou"):
        pipeline.up()
    assert engine.up_calls == 1 and sleeps == []
