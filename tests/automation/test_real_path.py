"""The real path up to the edge: `--engine pulumi` against a recording stand-in `pulumi` on PATH.

The stand-in (tests/support/stand_in_pulumi.py) logs every call's argv and environment and
answers like the real CLI for the calls that matter, so these tests assert what the real CLI
would receive: no `stack init` for read-only commands, opting out of the policy pack, and so on.
The README walk (tests/test_readme_walk.py) asserts the rest on the README's own lines: the
caller's credentials and no sandbox endpoint on every call of `run`, `up` and `rollback`, the
secrets provider of a new stack, the policy pack on preview and up, persisted `--config`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from automation import notify, wiring
from automation.errors import PipelineError, translate_pulumi_error
from automation.pipeline import ExitCode
from automation.preflight import check_platform
from automation.pulumi_engine import PulumiEngine
from automation.records import DeploymentRecord
from automation.wiring import effective_config, record_store_for, stack_model
from common.contracts import LIVE_PLATFORM_ENV
from tests.support.real_path import argv, automation, caller_env
from tests.support.stand_in_pulumi import calls, install_stand_in
from verify.aws import endpoint_override


def commands(recorded: list[dict]) -> list[str]:
    return [" ".join(a for a in c["argv"] if not a.startswith("-"))[:40] for c in recorded]


@pytest.mark.parametrize("command", ["outputs", "history", "verify", "rollback"])
def test_read_only_commands_never_create_a_stack(tmp_path: Path, command: str) -> None:
    env = caller_env(install_stand_in(tmp_path))
    result = automation(env, command, "--stack", "staging", timeout=120)
    assert result.returncode == ExitCode.USAGE, result.stdout + result.stderr
    ran = commands(calls(tmp_path))
    assert any(c.startswith("stack select") for c in ran), ran
    assert not any(c.startswith("stack init") for c in ran), ran
    assert (
        "stack 'staging' does not exist in this backend; create it with "
        "`pulumi stack init staging` or run `up`"
    ) in result.stderr


def test_read_only_commands_use_an_existing_stack(tmp_path: Path) -> None:
    env = caller_env(install_stand_in(tmp_path, stacks=["staging"]))
    result = automation(env, "outputs", "--stack", "staging", timeout=120)
    assert result.returncode == ExitCode.OK, result.stderr
    assert json.loads(result.stdout) == {}
    ran = commands(calls(tmp_path))
    assert "stack output staging" in ran or any(c.startswith("stack output") for c in ran), ran
    assert not any(c.startswith("stack init") for c in ran), ran


def test_any_stack_with_a_stack_file_gets_an_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stacks are files: a `pr-123` review stack is as valid as dev, an unknown one is named."""
    assert {"dev", "staging", "prod"} <= set(wiring.known_stacks())
    (tmp_path / "Pulumi.yaml").write_text("name: passport-photo-backend\nruntime: python\n")
    (tmp_path / "Pulumi.pr-123.yaml").write_text("config: {}\n")
    monkeypatch.setattr(wiring, "ROOT", tmp_path)
    assert wiring.make_engine("pulumi", "pr-123").stack == "pr-123"
    with pytest.raises(PipelineError, match=r"no Pulumi\.pr-9\.yaml; available: pr-123"):
        wiring.make_engine("pulumi", "pr-9")


def test_the_policy_pack_can_be_opted_out(tmp_path: Path) -> None:
    env = caller_env(install_stand_in(tmp_path, stacks=["staging"]))
    result = automation(env, "preview", "--stack", "staging", "--no-policy-pack")
    assert result.returncode == ExitCode.OK, result.stderr[-2000:]
    preview = next(argv(c) for c in calls(tmp_path) if argv(c)[:1] == ["preview"])
    assert "--policy-pack" not in preview


@pytest.mark.parametrize("passphrase", [None, ""], ids=["unset", "empty"])
def test_a_passphrase_stack_without_a_passphrase_fails_before_the_cli(
    tmp_path: Path, passphrase: str | None
) -> None:
    """An empty value is what a workflow passes for a missing secret: it counts as unset."""
    env = caller_env(install_stand_in(tmp_path))
    env.pop("PULUMI_CONFIG_PASSPHRASE")
    if passphrase is not None:
        env["PULUMI_CONFIG_PASSPHRASE"] = passphrase
    result = automation(env, "preview", "--stack", "dev", "--secrets-provider", "passphrase")
    assert result.returncode == ExitCode.FAILED
    assert "neither PULUMI_CONFIG_PASSPHRASE nor PULUMI_CONFIG_PASSPHRASE_FILE is set" in (
        result.stderr
    )
    assert calls(tmp_path) == []  # nothing ran: no stack was created without its secrets key


class FakeEb:
    def __init__(self, names: list[str]) -> None:
        self.names = names

    def list_available_solution_stacks(self) -> dict:
        return {"SolutionStacks": self.names}


def test_check_reports_a_newer_platform_of_the_pinned_branch() -> None:
    pinned = "64bit Amazon Linux 2023 v4.6.0 running Python 3.11"
    newer = "64bit Amazon Linux 2023 v4.10.2 running Python 3.11"
    other = "64bit Amazon Linux 2023 v4.11.0 running Python 3.12"
    finding = check_platform(pinned, FakeEb([pinned, newer, other]))
    assert finding.ok and newer in finding.message and other not in finding.message
    assert check_platform(newer, FakeEb([pinned, newer])).message.endswith("of its branch")
    gone = check_platform(pinned, FakeEb([newer]))
    assert not gone.ok and "not available" in gone.message and newer in gone.message


@pytest.mark.parametrize("quote", ['"', ""])
def test_destroy_of_protected_resources_explains_the_way_out(quote: str) -> None:
    from pulumi import automation as auto
    from pulumi.automation._cmd import CommandResult

    urn = "urn:pulumi:prod::passport-photo-backend::aws:dynamodb/table:Table::pp-prod-emails"
    stderr = (
        f"error: resource {quote}{urn}{quote} cannot be deleted\n"
        "because it is protected. To unprotect the resource, either remove the `protect` flag "
        "from the resource in your Pulumi program and run `pulumi up`, or use the command:\n"
        f"`pulumi state unprotect '{urn}'`"
    )
    error = translate_pulumi_error(auto.CommandError(CommandResult("", stderr, 255)), "prod")
    text = str(error)
    assert urn in text and "protected resources" in text
    assert "deletionProtection: false in Pulumi.prod.yaml" in text
    assert "python -m automation up --stack prod" in text
    # What deletionProtection: false does (tests/program/test_storage.py, test_datastore.py):
    # retain_on_delete goes with protect, so the next destroy deletes the data; never say
    # it is retained.
    assert "deletes the tables and buckets with their data" in text
    assert "retained" not in text


def test_a_first_deploy_whose_up_fails_leaves_a_record(tmp_path: Path) -> None:
    """No stack outputs yet (no artifact bucket): the record goes next to the reports."""

    class Engine:  # the Engine protocol's members record_store_for reads
        name, stack, records_path, aws_env = "pulumi", "staging", None, None

    store = record_store_for(Engine(), tmp_path / "records.json")({})
    store.save(DeploymentRecord(stack="staging", app_version="v-1", engine="pulumi"))
    assert [r.app_version for r in store.list()] == ["v-1"]


def test_a_bad_config_override_fails_before_the_cli(tmp_path: Path) -> None:
    env = caller_env(install_stand_in(tmp_path, stacks=["staging"]))
    result = automation(env, "preview", "--stack", "staging", "--config", "maxInstances=0")
    assert result.returncode == ExitCode.USAGE
    assert "maxInstances: got 0" in result.stderr
    assert calls(tmp_path) == []


def test_the_check_stage_and_bundle_read_the_overridden_config() -> None:
    merged = effective_config("staging", {"passport-photo-backend:backgroundRemovalModel": "u2net"})
    assert merged["passport-photo-backend:backgroundRemovalModel"] == "u2net"
    assert stack_model("staging", {"passport-photo-backend:backgroundRemovalModel": "u2net"}) == (
        "u2net"
    )
    assert stack_model("staging") == "u2netp"


def test_records_notifications_and_bundles_use_the_stacks_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runner configured for another region must not send records, notices or bundle
    fetches there: every pipeline client is built from the engine's aws_env (issue 21)."""
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    engine = PulumiEngine("staging", backup_dir=tmp_path)  # Pulumi.staging.yaml: us-east-1
    built: list[tuple[str, str | None]] = []

    class Unreachable:  # the edge: any AWS call answers an error
        def __getattr__(self, name: str) -> Any:
            def call(*args: Any, **kwargs: Any) -> Any:
                raise ClientError({"Error": {"Code": "NoSuchKey", "Message": name}}, name)

            return call

    def recording(service: str, aws_env=None, **kwargs):  # noqa: ANN001, ANN003 - make_client's
        client = real_make_client(service, aws_env, **kwargs)  # builds, calls nothing
        built.append((service, client.meta.region_name))
        return Unreachable()

    real_make_client = wiring.make_client
    monkeypatch.setattr(wiring, "make_client", recording)
    monkeypatch.setattr(notify, "make_client", recording)
    record_store_for(engine, tmp_path / "records.json")({"artifact_bucket": "pp-staging-art"})
    notify.notify("arn:aws:sns:us-east-1:123456789012:t", "s", {}, aws_env=engine.aws_env)
    with pytest.raises(PipelineError):
        wiring.fetch_bundle({"artifact_bucket": "pp-staging-art"}, "v-none", engine.aws_env)
    assert {service for service, _ in built} == {"s3", "sns"}
    assert all(region == "us-east-1" for _, region in built), built


LIVE = "64bit Amazon Linux 2023 v4.7.2 running Python 3.11"
PINNED = "64bit Amazon Linux 2023 v4.6.0 running Python 3.11"
NEWEST = "64bit Amazon Linux 2023 v4.8.0 running Python 3.11"


def test_a_retired_pin_the_environment_moved_past_names_the_platform_not_blocks() -> None:
    """Issue 21 item 3: managed updates moved the environment on and EB retired the pin; the
    deploy declares the live platform, so `check` says where to move the pin and passes."""
    finding = check_platform(PINNED, FakeEb([LIVE, NEWEST]), live=LIVE)
    assert finding.ok, finding.message
    assert "retired" in finding.message and NEWEST in finding.message
    assert LIVE in finding.message  # what runs, and what deploys declare
    # No environment to follow: EB cannot create one on a retired platform; say where to go.
    first = check_platform(PINNED, FakeEb([LIVE, NEWEST]), live=None)
    assert not first.ok and NEWEST in first.message


def test_the_engine_hands_the_program_the_live_platform(tmp_path: Path) -> None:
    """Preview and up run the program with the platform the live environment runs."""
    selected: list[dict[str, str]] = []

    class Stack:
        def preview(self, **kwargs: Any) -> Any:
            return None

    def factory(name: str, work_dir: str, env: dict[str, str]) -> Stack:
        selected.append(env)
        return Stack()

    engine = PulumiEngine(
        "staging",
        backup_dir=tmp_path,
        stack_factory=factory,
        on_output=lambda _: None,
        version_lookup=lambda bundle: False,
        platform_lookup=lambda: LIVE,
    )
    engine.preview()
    assert selected[-1][LIVE_PLATFORM_ENV] == LIVE


def test_the_region_only_aws_env_keeps_the_ambient_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real engine's aws_env names only the region: an ambient AWS_ENDPOINT_URL (what boto3
    uses for those clients too) still tells the checks they talk to an emulator, so an
    operation moto lacks is skipped there, not reported as an AWS failure."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    engine = PulumiEngine("staging", backup_dir=tmp_path)
    assert endpoint_override(engine.aws_env) == "http://127.0.0.1:5000"
    assert endpoint_override({"AWS_ENDPOINT_URL": "http://127.0.0.1:6000"}) == (
        "http://127.0.0.1:6000"
    )
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert endpoint_override(engine.aws_env) is None  # real AWS
