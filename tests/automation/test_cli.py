"""The automation CLI's guard rails, which must hold before any engine is touched."""

from __future__ import annotations

import pytest

from automation.cli import main
from automation.pipeline import ExitCode
from automation.wiring import build_pipeline


def test_destroy_refuses_prod_without_confirmation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["destroy", "--stack", "prod", "--engine", "pulumi"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "refusing to destroy prod" in err and "--confirm prod" in err


def test_destroy_confirmation_must_name_prod(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["destroy", "--stack", "prod", "--confirm", "staging"]) == ExitCode.USAGE
    assert "refusing to destroy prod" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "--stack", "qa"], "unknown stack 'qa': no Pulumi.qa.yaml; available: dev, prod"),
        (["run", "--stack", "dev", "--engine", "terraform"], "'terraform' is not one of"),
        (["deploy", "--stack", "dev"], "No such command 'deploy'"),
        (["run"], "Missing option '--stack'"),
        (["preview", "--stack", "dev", "--to", "v-1"], "No such option: --to"),  # per command
        (["verify", "--stack", "dev", "--confirm", "dev"], "No such option: --confirm"),
    ],
)
def test_bad_arguments_exit_2_naming_the_problem(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_missing_pulumi_cli_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["outputs", "--stack", "staging", "--engine", "pulumi"]) == ExitCode.FAILED
    err = capsys.readouterr().err
    assert "error: the Pulumi CLI was not found on PATH" in err.splitlines()[-1]
    assert "Traceback" not in err


def test_config_overrides_need_the_pulumi_engine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "--stack", "dev", "--config", "maxInstances=4"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "config overrides are only applied by --engine pulumi" in err


def test_config_override_must_be_key_value(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["preview", "--stack", "dev", "--engine", "pulumi", "--config", "maxInstances"]
    assert main(argv) == ExitCode.USAGE
    assert "--config expects KEY=VALUE" in capsys.readouterr().err


def test_config_overrides_reach_the_pulumi_engine_namespaced() -> None:
    pipeline = build_pipeline(
        "staging",
        "pulumi",
        config_overrides={"passport-photo-backend:maxInstances": "4", "aws:region": "eu-west-1"},
    )
    assert pipeline.engine.config_overrides == {
        "passport-photo-backend:maxInstances": "4",
        "aws:region": "eu-west-1",
    }
