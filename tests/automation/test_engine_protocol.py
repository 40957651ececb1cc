"""The Engine protocol is complete, statuses carry their exit codes, the config is parsed once."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from automation import runconfig
from automation.engine import Engine
from automation.pipeline import PipelineResult
from automation.pulumi_engine import PulumiEngine
from automation.records import DeploymentRecord
from automation.runconfig import RunConfig
from automation.sandbox_engine import SandboxAdapter
from automation.status import RecordStatus, RunStatus
from automation.wiring import build_pipeline
from commandline.exitcodes import TABLE, ExitCode
from commandline.interrupts import Interrupted
from components.config import StackConfigError


def protocol_members() -> set[str]:
    members = set(Engine.__annotations__)
    members |= {
        name
        for name, value in vars(Engine).items()
        if not name.startswith("_") and (isinstance(value, property) or inspect.isfunction(value))
    }
    return members


@pytest.mark.parametrize(
    "engine",
    [
        lambda tmp: PulumiEngine("dev", backup_dir=tmp),
        lambda tmp: SandboxAdapter("dev", state_root=tmp),
    ],
    ids=["pulumi", "sandbox"],
)
def test_both_engines_implement_every_member_of_the_protocol(engine, tmp_path: Path) -> None:
    made = engine(tmp_path)
    assert {"aws_env", "records_path", "state_root", "config_overrides", "cleaned"} <= (
        protocol_members()
    )
    missing = [name for name in sorted(protocol_members()) if not hasattr(made, name)]
    assert not missing, f"{type(made).__name__} lacks {missing}"
    assert isinstance(made.cleaned, list) and dict(made.config_overrides) == {}


def test_where_each_engine_keeps_its_parts(tmp_path: Path) -> None:
    real = PulumiEngine("dev", backup_dir=tmp_path)
    assert (real.records_path, real.state_root) == (None, None)
    # The ambient credentials, but the stack's region (never the caller's AWS_REGION).
    assert real.aws_env == {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
    sandbox = SandboxAdapter("dev", state_root=tmp_path)
    assert sandbox.state_root == tmp_path and sandbox.aws_env is None  # nothing deployed yet
    assert sandbox.records_path == tmp_path / ".records" / "dev.json"


def test_every_run_status_knows_its_exit_code_and_keeps_its_json_word() -> None:
    words = {s.value for s in RunStatus}
    assert words == {
        "succeeded",
        "failed",
        "rolled_back",
        "not_recovered",
        "nothing_to_roll_back",
        "blocked",
        "interrupted",
    }
    documented = {int(code) for code, _ in TABLE}
    assert all(int(s.exit_code) in documented for s in RunStatus)
    assert RunStatus.ROLLED_BACK.exit_code == ExitCode.ROLLED_BACK == 3


def test_setting_a_status_sets_the_exit_code() -> None:
    result = PipelineResult("run", "dev", "sandbox")
    assert (result.status, result.exit_code) == (RunStatus.SUCCEEDED, ExitCode.OK)
    result.status = RunStatus.NOT_RECOVERED
    assert result.exit_code == ExitCode.NOT_RECOVERED
    result.status = "blocked"  # the plain word still works, and becomes the member
    assert result.status is RunStatus.BLOCKED and result.exit_code == ExitCode.BLOCKED
    result.interrupt(Interrupted(15))
    assert result.status is RunStatus.INTERRUPTED and result.exit_code == ExitCode.TERMINATED
    assert result.to_dict()["status"] == "interrupted" and result.to_dict()["exit_code"] == 143


def test_records_read_back_from_json_get_their_status_member() -> None:
    record = DeploymentRecord.from_dict(
        {"stack": "dev", "app_version": "v-1", "engine": "sandbox", "status": "verified"}
    )
    assert record.status is RecordStatus.VERIFIED and record.to_dict()["status"] == "verified"
    with pytest.raises(ValueError):
        DeploymentRecord(stack="dev", app_version="v-1", engine="x", status="bogus")


def test_the_stack_config_is_parsed_once_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    parses: list[str] = []
    real_parse = runconfig.parse_stack_config

    def counting(stack: str, raw: dict) -> object:
        parses.append(stack)
        return real_parse(stack, raw)

    monkeypatch.setattr(runconfig, "parse_stack_config", counting)
    overrides = {"passport-photo-backend:backgroundRemovalModel": "u2net"}
    pipeline = build_pipeline("staging", "pulumi", config_overrides=overrides)
    engine = pipeline.engine
    assert isinstance(engine, PulumiEngine)
    assert parses == ["staging"]  # validated up front, because of the overrides
    assert engine.run_config.model == "u2net" and engine.run_config.parsed.region
    assert parses == ["staging"]  # the engine reads that same parse


def test_an_invalid_config_raises_the_same_error_without_parsing_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parses: list[str] = []
    real_parse = runconfig.parse_stack_config

    def counting(stack: str, raw: dict) -> object:
        parses.append(stack)
        return real_parse(stack, raw)

    monkeypatch.setattr(runconfig, "parse_stack_config", counting)
    config = RunConfig("dev", {"passport-photo-backend:maxInstances": "0"})
    for _ in range(2):
        with pytest.raises(StackConfigError, match="maxInstances"):
            config.model  # noqa: B018 - the access is the test
    assert parses == ["dev"]
