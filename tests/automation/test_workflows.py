"""The GitHub Actions workflows: valid against GitHub's schema, and wired the way issue 6 asks.

actionlint's PyPI package downloads its binary at install time (impossible offline), so validity
is checked with check-jsonschema's vendored github-workflows schema; the structural promises
(OIDC, per-stack concurrency, prod behind an environment, logic only via the automation CLI) are
asserted directly on the parsed YAML.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from common.paths import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the bare key `on` as True
    return data


def run_steps(workflow: dict[str, Any]) -> list[str]:
    return [
        s["run"] for job in workflow["jobs"].values() for s in job.get("steps", []) if "run" in s
    ]


def uses(workflow: dict[str, Any]) -> list[str]:
    return [
        s["uses"] for job in workflow["jobs"].values() for s in job.get("steps", []) if "uses" in s
    ]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_is_valid_against_githubs_schema(path: Path) -> None:
    result = subprocess.run(  # noqa: S603 - our venv's tool on our file
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: push\njobs:\n  a:\n    steps:\n      - run: echo\n")
    result = subprocess.run(  # noqa: S603
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0  # a job with no runs-on is not a workflow


def test_ci_runs_lint_tests_check_and_a_staging_preview_comment() -> None:
    ci = load("ci.yml")
    assert "pull_request" in ci["on"]
    runs = "\n".join(run_steps(ci))
    assert "make lint" in runs and "make test" in runs
    assert "python -m automation check --stack staging" in runs
    assert "python -m automation preview --stack staging --engine pulumi" in runs
    comment = next(
        s
        for s in ci["jobs"]["preview"]["steps"]
        if s.get("uses", "").startswith("actions/github-script")
    )
    script = comment["with"]["script"]
    assert "updateComment" in script and "createComment" in script  # edited, not duplicated
    assert ci["jobs"]["preview"]["permissions"]["id-token"] == "write"


def test_deploy_uses_oidc_per_stack_concurrency_and_a_prod_environment() -> None:
    deploy = load("deploy.yml")
    assert set(deploy["on"]) == {"push", "release", "workflow_dispatch", "workflow_call"}
    assert deploy["permissions"] == {}  # OIDC only in the job that assumes the role
    job = deploy["jobs"]["deploy"]
    assert job["permissions"]["id-token"] == "write"
    assert "STACK" in job["env"] and "'staging'" in job["env"]["STACK"]
    assert (
        job["concurrency"]["group"].startswith("deploy-")
        and "staging" in job["concurrency"]["group"]
    )
    assert job["concurrency"]["cancel-in-progress"] is False
    assert "production" in job["environment"]["name"]
    steps = uses(deploy)
    assert any(u.startswith("aws-actions/configure-aws-credentials") for u in steps)
    assert any(u.startswith("pulumi/actions") for u in steps)
    assert any(u.startswith("actions/upload-artifact") for u in steps)
    aws_step = next(
        s
        for s in job["steps"]
        if s.get("uses", "").startswith("aws-actions/configure-aws-credentials")
    )
    assert "role-to-assume" in aws_step["with"]
    assert not any("aws-access-key-id" in s.get("with", {}) for s in job["steps"])
    assert 'python -m automation run --stack "$STACK" --engine pulumi' in "\n".join(
        run_steps(deploy)
    )


def test_prod_promotes_the_attested_bundle_staging_verified_never_a_rebuild() -> None:
    """Build once, promote (issue 20): staging attests; prod fetches, verifies, promotes."""
    job = load("deploy.yml")["jobs"]["deploy"]
    steps = job["steps"]
    assert job["permissions"]["attestations"] == "write"
    assert job["permissions"]["id-token"] == "write"  # signs the attestation
    names = [s.get("id") or s.get("uses", "").split("@")[0] for s in steps]
    attest = next(s for s in steps if s.get("uses", "").startswith("actions/attest-build-"))
    assert attest["if"] == "env.STACK != 'prod' && steps.pipeline.outputs.status == 'succeeded'"
    assert attest["with"]["subject-path"] == (
        "build/bundles/${{ steps.pipeline.outputs.app_version }}.zip"
    )
    assert names.index("pipeline") < names.index("actions/attest-build-provenance")
    run = next(s for s in steps if s.get("id") == "pipeline")
    assert run["if"] == "env.STACK != 'prod'"  # prod never runs `run` (which would rebuild)
    fetch, promote = (next(s for s in steps if s.get("id") == i) for i in ("fetch", "promote"))
    verify = next(s for s in steps if "gh attestation verify" in s.get("run", ""))
    # the order: fetch (digest checked) → attestation verified → promote; all prod only
    assert steps.index(fetch) < steps.index(verify) < steps.index(promote)
    assert fetch["if"] == verify["if"] == promote["if"] == "env.STACK == 'prod'"
    assert "promote --from staging --to prod" in fetch["run"] and "--fetch-only" in fetch["run"]
    # the label reaches the shell through env, never spliced into the script (template injection)
    assert verify["env"]["APP_VERSION"] == promote["env"]["APP_VERSION"]
    assert verify["env"]["APP_VERSION"] == "${{ steps.fetch.outputs.app_version }}"
    assert '"build/promote/$APP_VERSION.zip"' in verify["run"]
    assert "--repo" in verify["run"] and verify["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert "promote --from staging --to prod" in promote["run"]
    assert '--label "$APP_VERSION"' in promote["run"]
    assert not any("app.bundle" in s.get("run", "") for s in steps)  # no build step
    assert "steps.promote.outputs.api_url" in job["environment"]["url"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_call_the_automation_cli_not_pulumi_directly(path: Path) -> None:
    for script in run_steps(load(path.name)):
        assert "pulumi up" not in script and "pulumi preview" not in script, script


def effective_permissions(workflow: dict[str, Any], job: dict[str, Any]) -> dict[str, str]:
    """A job's permissions block replaces the workflow's (GitHub's rule), it does not add."""
    return dict(job.get("permissions", workflow.get("permissions", {})))


#: Actions that publish JUnit results as a check run (needs `checks: write`).
CHECK_RUN_PUBLISHERS = ("mikepenz/action-junit-report", "dorny/test-reporter")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_jobs_that_publish_check_runs_may_write_checks(path: Path) -> None:
    workflow = load(path.name)
    publishing = [
        name
        for name, job in workflow["jobs"].items()
        if any(s.get("uses", "").startswith(CHECK_RUN_PUBLISHERS) for s in job.get("steps", []))
    ]
    for name in publishing:
        perms = effective_permissions(workflow, workflow["jobs"][name])
        assert perms.get("checks") == "write", f"{path.name}:{name} publishes check runs: {perms}"


def test_a_pr_preview_never_shares_a_concurrency_group_with_a_deploy() -> None:
    """GitHub cancels the pending job of a group when another one queues: a preview in the
    staging deploy's group would cancel a queued staging deploy (issue 21, item 5)."""
    deploy_group = load("deploy.yml")["jobs"]["deploy"]["concurrency"]["group"]
    assert "deploy-${{ github.event_name == 'push' && 'staging'" in deploy_group
    preview = load("ci.yml")["jobs"]["preview"]["concurrency"]
    # Whatever the expressions evaluate to, a deploy's group starts "deploy-", a preview's not.
    assert not preview["group"].startswith("deploy-"), preview
    assert "github.event.pull_request.number" in preview["group"]  # one per pull request
    for name in ("ci.yml", "deploy.yml"):
        for job_name, job in load(name)["jobs"].items():
            group = (job.get("concurrency") or {}).get("group", "")
            if group.startswith("deploy-"):
                assert job.get("concurrency", {}).get("cancel-in-progress") is False, job_name
                assert job_name != "preview" or name != "ci.yml"


def test_fork_pull_requests_skip_the_aws_steps_with_a_notice() -> None:
    preview = load("ci.yml")["jobs"]["preview"]
    fork = preview["env"]["FORK_PR"]
    assert "github.event.pull_request.head.repo.full_name != github.repository" in fork
    needs_secrets = [
        s
        for s in preview["steps"]
        if s.get("uses", "").startswith(
            ("pulumi/actions", "aws-actions/configure-aws-credentials", "actions/github-script")
        )
        or "--engine pulumi" in s.get("run", "")
    ]
    assert len(needs_secrets) == 4
    for step in needs_secrets:
        assert step.get("if") == "env.FORK_PR != 'true'", step
    notice = [s for s in preview["steps"] if s.get("if") == "env.FORK_PR == 'true'"]
    assert len(notice) == 1 and "::notice" in notice[0]["run"]


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_workflows_hand_pulumi_a_self_managed_backend_and_passphrase(name: str) -> None:
    workflow = load(name)
    job = workflow["jobs"]["preview" if name == "ci.yml" else "deploy"]
    assert job["env"]["PULUMI_BACKEND_URL"] == "${{ vars.PULUMI_BACKEND_URL }}"
    assert job["env"]["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"


def test_drift_runs_nightly_on_staging_and_prod_read_only() -> None:
    drift = load("drift.yml")
    assert drift["on"]["schedule"] and "workflow_dispatch" in drift["on"]
    job = drift["jobs"]["drift"]
    assert job["strategy"]["matrix"]["stack"] == ["staging", "prod"]
    assert job["environment"]["name"] == "${{ matrix.stack }}-drift"  # secrets behind it
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert job["concurrency"]["group"] == "deploy-${{ matrix.stack }}"  # never mid-deploy
    runs = "\n".join(run_steps(drift))
    assert 'python -m automation drift --stack "$STACK" --engine pulumi' in runs
    role = next(s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", ""))
    assert role["with"]["role-to-assume"] == "${{ vars.AWS_DRIFT_ROLE_ARN }}"
