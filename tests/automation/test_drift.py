"""`automation drift`: a setting changed behind the stack's back is named; a clean stack exits 0.

The sandbox half runs a real `up` (moto + the app) and changes the resources through moto's own
API, as a console user would; the Pulumi half gives the recording stand-in `pulumi` what AWS
would read back and checks the command parses `refresh --preview-only` into the same report.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.pipeline import ExitCode
from common.jsonfile import write_json_atomic
from tests.support.cli_runner import run_module
from tests.support.real_path import argv, automation, caller_env
from tests.support.sandbox_stacks import Deployed, deploy
from tests.support.stand_in_pulumi import calls, drifted, install_stand_in

VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
TABLE = "aws:dynamodb/table:Table"
ENVIRONMENT = "aws:elasticbeanstalk/environment:Environment"


@pytest.fixture(scope="module")
def stack(state_root: Path) -> Iterator[Deployed]:
    deployed = deploy("dev", state_root)
    yield deployed
    deployed.engine.destroy()


def drift(state_root: Path, *args: str) -> tuple[int, dict | str]:
    result = run_module(
        "automation",
        "drift",
        "--stack",
        "dev",
        "--state-root",
        str(state_root),
        *args,
        timeout=120,
    )
    out = json.loads(result.stdout) if "--json" in args and result.stdout else result.stdout
    return result.returncode, out if out else result.stderr


@pytest.mark.slow
def test_a_clean_stack_has_no_drift(stack: Deployed, state_root: Path) -> None:
    code, report = drift(state_root, "--json")
    assert code == ExitCode.OK, report
    assert report["drifted"] is False and report["drifts"] == []
    # the buckets' versioning, encryption and public-access blocks and both tables were read
    assert report["checked"] >= 5, report


@pytest.mark.slow
def test_suspended_versioning_and_disabled_pitr_are_named(
    stack: Deployed, state_root: Path
) -> None:
    s3, ddb = stack.client("s3"), stack.client("dynamodb")
    bucket, table = stack.outputs["artifact_bucket"], stack.outputs["email_table"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    ddb.update_continuous_backups(
        TableName=table,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False},
    )
    try:
        code, report = drift(state_root, "--json")
        text_code, text = drift(state_root)
    finally:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        ddb.update_continuous_backups(
            TableName=table,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
    assert code == text_code == ExitCode.FAILED, report
    found = {(d["type"], d["property"], d["declared"], d["actual"]) for d in report["drifts"]}
    assert (VERSIONING, "versioningConfiguration.status", "Enabled", "Suspended") in found
    assert (TABLE, "pointInTimeRecovery.enabled", True, False) in found
    assert len(report["drifts"]) == 2, report  # nothing else is claimed
    assert "versioningConfiguration.status: declared 'Enabled', found 'Suspended'" in text
    assert "pointInTimeRecovery.enabled: declared True, found False" in text
    # put back: clean again
    assert drift(state_root)[0] == ExitCode.OK


def test_a_stack_not_deployed_is_a_usage_error(tmp_path: Path) -> None:
    code, said = drift(tmp_path)
    assert code == ExitCode.USAGE
    assert "not deployed in the sandbox" in said


def test_the_pulumi_engine_reads_refresh_preview_only(tmp_path: Path) -> None:
    env = caller_env(install_stand_in(tmp_path, stacks=["staging"]))
    drifted(
        tmp_path,
        "staging",
        [
            {
                "type": VERSIONING,
                "name": "artifacts-versioning",
                "state": {"versioningConfiguration": {"status": "Enabled"}, "bucket": "b"},
                "live": {"versioningConfiguration": {"status": "Suspended"}, "bucket": "b"},
            },
            {"type": TABLE, "name": "emails", "state": {"name": "t"}, "live": {"name": "t"}},
            {"type": TABLE, "name": "analytics", "state": {"name": "a"}, "live": None},
        ],
    )
    result = automation(env, "drift", "--stack", "staging", "--json", timeout=120)
    assert result.returncode == ExitCode.FAILED, result.stderr
    report = json.loads(result.stdout)
    assert [(d["resource"], d["property"]) for d in report["drifts"]] == [
        ("artifacts-versioning", "versioningConfiguration"),
        ("analytics", "(deleted)"),
    ]
    assert report["checked"] == 3
    refresh = [argv(c) for c in calls(tmp_path) if argv(c)[:1] == ["refresh"]]
    assert refresh and "--preview-only" in refresh[0], refresh  # the state is never refreshed

    drifted(tmp_path, "staging", [{"type": TABLE, "name": "e", "state": {}, "live": {}}])
    clean = automation(env, "drift", "--stack", "staging", timeout=120)
    assert clean.returncode == ExitCode.OK, clean.stderr
    assert "no drift in staging: 1 resources match" in clean.stdout


@pytest.mark.slow
def test_another_version_running_in_the_environment_is_named(
    stack: Deployed, state_root: Path
) -> None:
    """EB lives in the sandbox's own state (moto has no deployments): a version deployed
    there behind the stack's back (a console deploy) is the environment's drift."""
    path = stack.engine.paths.sandbox
    saved = path.read_text()
    data = json.loads(saved)
    declared = data["app"]["version"]
    data["app"]["version"] = "v-from-the-console"
    write_json_atomic(path, data)
    try:
        code, report = drift(state_root, "--json")
    finally:
        path.write_text(saved)
    assert code == ExitCode.FAILED, report
    (found,) = report["drifts"]
    assert (found["type"], found["property"]) == (ENVIRONMENT, "version")
    assert (found["declared"], found["actual"]) == (declared, "v-from-the-console")


@pytest.mark.slow
def test_edited_environment_properties_are_named(stack: Deployed, state_root: Path) -> None:
    """The environment properties the app runs with, as the sandbox keeps them (their digest),
    edited behind the stack's back: named as the settings' drift, without their values."""
    path = stack.engine.paths.sandbox
    saved = path.read_text()
    data = json.loads(saved)
    data["app"]["env_hash"] = "0" * 64  # what the app would run with after a console edit
    write_json_atomic(path, data)
    try:
        code, report = drift(state_root, "--json")
    finally:
        path.write_text(saved)
    assert code == ExitCode.FAILED, report
    (found,) = report["drifts"]
    assert found["type"] == ENVIRONMENT
    assert found["property"] == "settings[aws:elasticbeanstalk:application:environment]"
