"""CLI: exit codes (0 passed, 1 failed, 2 usage/input), output sources, report files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from common.paths import ROOT
from tests.support.scripted_server import Reply, ScriptedServer
from verify.cli import main
from verify.outputs import OutputsError, load_pulumi, load_sandbox


def outputs_file(tmp_path: Path, **outputs: object) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return path


def serve_health(server: ScriptedServer, version: str) -> None:
    body = {"status": "ok", "app_version": version, "model_loaded": True}
    server.on("/health", Reply(200, body))


def test_exit_0_when_every_selected_check_passes(tmp_path, server, capsys):
    serve_health(server, "v-1")
    path = outputs_file(tmp_path, api_url=server.url, app_version="v-1")
    code = main(["--outputs", str(path), "--only", "health", "--report-dir", str(tmp_path / "r")])
    assert code == 0
    assert capsys.readouterr().out.strip() == f"report: {tmp_path / 'r' / 'report.html'}"
    report = json.loads((tmp_path / "r" / "verify.json").read_text())
    assert [c["name"] for c in report["checks"]] == ["readiness", "health"]  # readiness joins
    assert {p.name for p in (tmp_path / "r").iterdir()} >= {
        "verify.json",
        "junit.xml",
        "summary.md",
        "report.html",
    }


def test_exit_1_when_the_app_serves_another_version(tmp_path, server, capsys):
    serve_health(server, "v-old")
    path = outputs_file(tmp_path, api_url=server.url, app_version="v-new")
    code = main(["--outputs", str(path), "--only", "health", "--report-dir", str(tmp_path / "r")])
    assert code == 1
    health = json.loads((tmp_path / "r" / "verify.json").read_text())["checks"][1]
    assert health["status"] == "FAILED"
    assert "app version: expected 'v-new', got 'v-old'" in health["message"]


def test_missing_output_key_is_exit_2_naming_it(tmp_path, capsys):
    path = outputs_file(tmp_path, region="us-east-1", email_table="t")
    assert main(["--outputs", str(path), "--only", "dynamodb"]) == 2
    err = capsys.readouterr().err
    assert "missing output 'analytics_table'" in err and "email_table" not in err


def test_mistyped_outputs_are_exit_2_with_every_problem(tmp_path, capsys):
    path = outputs_file(tmp_path, api_url="ftp://x", latency_budget_ms="fast")
    assert main(["--outputs", str(path), "--only", "performance"]) == 2
    err = capsys.readouterr().err
    assert "'latency_budget_ms' must be int, got str 'fast'" in err
    assert "'api_url' must be an http(s) URL" in err


def exit_code(argv: list[str]) -> int:
    """main()'s return value, or argparse's exit status for errors it handles itself."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--outputs", "/nonexistent/outputs.json"], "cannot read outputs file"),
        (["--only", "bogus", "--outputs", "x"], "invalid choice: 'bogus'"),
        (["--concurrency", "0", "--outputs", "x"], "--concurrency must be ≥ 1"),
        (["--timeout", "-1", "--outputs", "x"], "--timeout must be > 0"),
        ([], "give exactly one of --outputs FILE or --stack S"),
        (["--stack", "qa"], "unknown stack 'qa': no Pulumi.qa.yaml; available: dev, prod"),
    ],
)
def test_usage_errors_are_exit_2(argv, needle, capsys):
    assert exit_code(argv) == 2
    assert needle in capsys.readouterr().err


def test_not_json_is_exit_2(tmp_path, capsys):
    path = tmp_path / "outputs.json"
    path.write_text("{nope")
    assert main(["--outputs", str(path)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err


def test_module_entry_point_exit_code(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "verify", "--outputs", str(tmp_path / "x")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "cannot read outputs file" in proc.stderr


def test_pulumi_engine_without_the_cli_is_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["--stack", "dev", "--engine", "pulumi"]) == 2
    assert "the pulumi CLI is not installed" in capsys.readouterr().err


def fake_pulumi(tmp_path: Path, stdout: str, code: int = 0) -> Path:
    """A stand-in pulumi executable (the CLI is the edge we may fake); records its argv."""
    exe = tmp_path / "pulumi"
    exe.write_text(
        f"#!/bin/sh\necho \"$@\" > {tmp_path}/argv\ncat <<'EOF'\n{stdout}\nEOF\nexit {code}\n"
    )
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


def test_pulumi_engine_reads_stack_outputs_without_secrets(tmp_path, monkeypatch):
    fake_pulumi(tmp_path, json.dumps({"stack": "prod", "api_url": "https://x"}))
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert load_pulumi("prod", cwd=tmp_path) == {"stack": "prod", "api_url": "https://x"}
    argv = (tmp_path / "argv").read_text().split()
    assert argv == ["stack", "output", "--json", "--stack", "prod"]


def test_pulumi_engine_failure_is_reported(tmp_path, monkeypatch):
    fake_pulumi(tmp_path, "error: no stack named 'nope' found", code=255)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(OutputsError, match=r"failed \(exit 255\): error: no stack named"):
        load_pulumi("nope", cwd=tmp_path)


def test_sandbox_engine_reads_state_and_points_boto3_at_moto(tmp_path):
    with pytest.raises(OutputsError, match=r"run `python -m sandbox up --stack dev` first"):
        load_sandbox("dev", state_root=tmp_path / ".sandbox")
    state = tmp_path / ".sandbox" / "dev"
    state.mkdir(parents=True)
    (state / "outputs.json").write_text(json.dumps({"stack": "dev", "region": "eu-west-1"}))
    (state / "sandbox.json").write_text(json.dumps({"aws_endpoint_url": "http://127.0.0.1:5"}))
    outputs, env = load_sandbox("dev", state_root=tmp_path / ".sandbox")
    assert outputs["region"] == "eu-west-1"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5"
    assert env["AWS_REGION"] == "eu-west-1" and env["AWS_ACCESS_KEY_ID"] == "testing"
