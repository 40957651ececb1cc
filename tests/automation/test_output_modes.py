"""Two audiences: a terminal gets progress lines, CI and --json get JSON lines; the audit log
(pipeline.jsonl) is written either way."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from automation.stagelog import StageLog
from commandline.console import StageRenderer, human_mode
from commandline.exitcodes import TABLE, ExitCode
from common.paths import ROOT


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_human_only_on_a_terminal_without_json_or_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert human_mode(False, Terminal())
    assert not human_mode(True, Terminal())  # --json
    assert not human_mode(False, io.StringIO())  # a pipe / a file
    monkeypatch.setenv("CI", "true")
    assert not human_mode(False, Terminal())


def test_a_terminal_gets_stage_lines_and_the_audit_log_gets_json(tmp_path: Path) -> None:
    screen, raw = Terminal(), io.StringIO()
    audit = tmp_path / "run" / "pipeline.jsonl"
    log = StageLog("dev", "sandbox", stream=raw, audit_path=audit, renderer=StageRenderer(screen))
    with log.stage("check") as stage:
        stage.detail = "all 8 checks passed"
    with pytest.raises(RuntimeError), log.stage("up"):
        raise RuntimeError("boom")
    assert raw.getvalue() == ""  # no JSON among the human lines
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())  # colours, cursor moves
    assert "✔ check" in text and "all 8 checks passed" in text and "✘ up" in text
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(e["stage"], e["status"]) for e in events] == [
        ("check", "started"),
        ("check", "succeeded"),
        ("up", "started"),
        ("up", "failed"),
    ]


def test_machines_get_json_lines_only(tmp_path: Path) -> None:
    raw = io.StringIO()
    log = StageLog("dev", "sandbox", stream=raw, audit_path=tmp_path / "pipeline.jsonl")
    with log.stage("preview"):
        pass
    lines = raw.getvalue().splitlines()
    assert all(json.loads(line)["stage"] == "preview" for line in lines) and len(lines) == 2
    assert (tmp_path / "pipeline.jsonl").read_text().splitlines() == lines


def test_the_exit_code_table_is_complete_and_documented() -> None:
    assert [code for code, _ in TABLE] == list(ExitCode)
    readme = (ROOT / "README.md").read_text()
    for code in ExitCode:
        assert f"| {int(code)} " in readme or f" {int(code)} |" in readme, code
