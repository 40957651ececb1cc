"""Digests, SBOMs and promotion, for real against sandbox stacks (moto + the app).

One dev stack for the module: v1 deployed and verified, then v2 deployed and not verified.
Each refusal test replaces an object in the artifact bucket and puts it back afterwards, so the
tests do not depend on their order.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from app.bundle import bundle_label
from app.lock import read_lock
from automation.artifacts import ArtifactDigestError
from automation.pipeline import ExitCode
from automation.records import FileRecordStore
from automation.wiring import build_pipeline
from common.paths import StackPaths
from sandbox.app_variants import build_variant
from tests.support.cli_runner import run_module
from verify.aws import make_client

pytestmark = pytest.mark.slow

SOURCE, TARGET = "dev", "staging"
QUICK = ["readiness", "health"]


def marked(text: str) -> Any:
    def edit(source: Path) -> None:
        init = source / "passport_app" / "__init__.py"
        init.write_text(init.read_text() + f"\n# {text}\n")

    return edit


def cli(state_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_module(
        "automation",
        *args,
        "--engine",
        "sandbox",
        "--state-root",
        str(state_root),
        "--json",
        env=dict(os.environ),
        timeout=900,
    )


def records(state_root: Path, stack: str) -> list[Any]:
    return FileRecordStore(state_root / ".records" / f"{stack}.json").list()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def stack(state_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("artifacts")
    v1 = build_variant(work / "v1", marked("artifacts: v1, verified"))
    v2 = build_variant(work / "v2", marked("artifacts: v2, deployed only"))
    pipeline = build_pipeline(
        SOURCE, "sandbox", state_root=state_root, report_root=work / "reports", verify_only=QUICK
    )
    assert pipeline.deploy(v1).exit_code == ExitCode.OK
    outputs = pipeline.engine.outputs()
    assert pipeline.promote(outputs, pipeline.verify(outputs))  # v1: verified
    assert pipeline.deploy(v2).exit_code == ExitCode.OK  # v2: deployed, never verified
    outputs = pipeline.engine.outputs()
    s3 = make_client("s3", pipeline.engine.aws_env)
    return {"v1": v1, "v2": v2, "outputs": outputs, "s3": s3, "pipeline": pipeline}


@contextmanager
def replaced(stack: dict[str, Any], label: str, body: bytes) -> Iterator[None]:
    """The label's bundle object in the artifact bucket holds other bytes, then is restored."""
    s3, bucket, key = stack["s3"], stack["outputs"]["artifact_bucket"], f"bundles/{label}.zip"
    original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    try:
        yield
    finally:
        s3.put_object(Bucket=bucket, Key=key, Body=original, ChecksumAlgorithm="SHA256")


def serving(outputs: dict[str, Any]) -> str:
    return requests.get(f"{outputs['api_url']}/health", timeout=10).json()["version"]


def test_records_carry_the_digest_the_object_carries_and_link_the_sbom(
    stack: dict[str, Any], state_root: Path
) -> None:
    v1 = stack["v1"]
    (record,) = [r for r in records(state_root, SOURCE) if r.app_version == bundle_label(v1)]
    assert record.bundle_sha256 == sha256(v1)
    bucket = stack["outputs"]["artifact_bucket"]
    head = stack["s3"].head_object(
        Bucket=bucket, Key=f"bundles/{record.app_version}.zip", ChecksumMode="ENABLED"
    )
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == record.bundle_sha256
    assert record.sbom == f"s3://{bucket}/bundles/{record.app_version}.sbom.json"
    body = stack["s3"].get_object(Bucket=bucket, Key=f"bundles/{record.app_version}.sbom.json")
    sbom = json.loads(body["Body"].read())
    assert sbom["metadata"]["component"]["version"] == record.app_version
    assert {c["name"] for c in sbom["components"]} == {p.key for p in read_lock()}
    shown = cli(state_root, "history", "--stack", SOURCE)
    listed = {d["app_version"]: d for d in json.loads(shown.stdout)["deployments"]}
    assert listed[record.app_version]["sbom"] == record.sbom
    assert listed[record.app_version]["bundle_sha256"] == record.bundle_sha256


def test_rollback_refuses_a_replaced_bundle(stack: dict[str, Any], state_root: Path) -> None:
    v1, v2 = stack["v1"], stack["v2"]
    label = bundle_label(v1)
    before = len(records(state_root, SOURCE))
    with replaced(stack, label, v2.read_bytes()):
        done = cli(state_root, "rollback", "--stack", SOURCE, "--to", label, "--only", "health")
    assert done.returncode == ExitCode.FAILED, done.stdout[-2000:] + done.stderr[-3000:]
    said = done.stdout + done.stderr
    assert f"has sha256 {sha256(v2)}" in said
    assert f"its deployment record says {sha256(v1)}" in said
    assert serving(stack["outputs"]) == bundle_label(v2)  # nothing was deployed
    assert len(records(state_root, SOURCE)) == before  # and no rollback was recorded


def test_promote_refuses_a_label_not_verified_on_the_source(
    stack: dict[str, Any], state_root: Path
) -> None:
    label = bundle_label(stack["v2"])
    done = cli(state_root, "promote", "--from", SOURCE, "--to", TARGET, "--label", label)
    assert done.returncode == ExitCode.USAGE, done.stdout[-2000:] + done.stderr[-3000:]
    said = done.stdout + done.stderr
    assert f"refusing to promote {label}: it was not verified on {SOURCE}" in said
    assert "deployed" in said  # the reason: what its record says
    assert not StackPaths(state_root, TARGET).sandbox.exists()  # nothing deployed


def test_promote_refuses_a_replaced_bundle(stack: dict[str, Any], state_root: Path) -> None:
    v1, v2 = stack["v1"], stack["v2"]
    label = bundle_label(v1)
    with replaced(stack, label, v2.read_bytes()):
        done = cli(state_root, "promote", "--from", SOURCE, "--to", TARGET, "--label", label)
    assert done.returncode == ExitCode.FAILED, done.stdout[-2000:] + done.stderr[-3000:]
    said = done.stdout + done.stderr
    assert f"has sha256 {sha256(v2)}" in said and f"record says {sha256(v1)}" in said
    assert not StackPaths(state_root, TARGET).sandbox.exists()
    assert not records(state_root, TARGET)


def test_promote_deploys_the_verified_artifact_itself(
    stack: dict[str, Any], state_root: Path
) -> None:
    v1 = stack["v1"]
    label = bundle_label(v1)
    done = cli(
        state_root, "promote", "--from", SOURCE, "--to", TARGET, "--label", label,
        "--only", ",".join(QUICK),
    )  # fmt: skip
    assert done.returncode == ExitCode.OK, done.stdout[-2000:] + done.stderr[-3000:]
    payload = json.loads(done.stdout)
    assert payload["app_version"] == label and payload["promoted_from"] == SOURCE
    assert payload["bundle_sha256"] == sha256(v1)
    assert [s["stage"] for s in payload["stages"]] == ["preview", "up", "verify"]  # no build
    (record,) = records(state_root, TARGET)
    assert record.status == "verified" and record.promoted_from == SOURCE
    assert record.bundle_sha256 == sha256(v1)
    assert serving({"api_url": payload["api_url"]}) == label


def test_promote_fetch_only_hands_over_the_checked_bundle_and_deploys_nothing(
    stack: dict[str, Any], state_root: Path, tmp_path: Path
) -> None:
    """What the release job runs before `gh attestation verify`."""
    v1 = stack["v1"]
    label = bundle_label(v1)
    before = records(state_root, TARGET)
    done = cli(
        state_root, "promote", "--from", SOURCE, "--to", TARGET, "--fetch-only", str(tmp_path)
    )
    assert done.returncode == ExitCode.OK, done.stdout[-2000:] + done.stderr[-3000:]
    payload = json.loads(done.stdout)
    assert payload["app_version"] == label  # the newest label verified on the source
    assert sha256(tmp_path / f"{label}.zip") == sha256(v1) == payload["bundle_sha256"]
    assert records(state_root, TARGET) == before


def test_up_of_a_label_the_stack_knows_refuses_a_replaced_artifact(
    stack: dict[str, Any], state_root: Path
) -> None:
    """`up` again of v2 (EB would reference the stored object): its bytes must be the record's."""
    v1, v2 = stack["v1"], stack["v2"]
    before = len(records(state_root, SOURCE))
    refused = pytest.raises(ArtifactDigestError, match=f"its deployment record says {sha256(v2)}")
    with replaced(stack, bundle_label(v2), v1.read_bytes()), refused:
        stack["pipeline"].deploy(v2)
    assert len(records(state_root, SOURCE)) == before
