"""What the CLIs print, and where: stdout holds only the result, stderr one reporter's lines.

On a terminal the reporter writes human lines; with `--json`, `CI=true` or a pipe it writes
JSON lines, and the Pulumi CLI's own progress goes through it too (never to stdout).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from commandline.console import Reporter
from commandline.exitcodes import ExitCode
from common.paths import ROOT
from tests.support.stand_in_pulumi import calls, install_stand_in


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def json_lines(text: str) -> list[dict]:
    """Every non-empty line as JSON (fails on the first line that is not)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_pulumi_output_never_reaches_stdout_with_json(tmp_path: Path) -> None:
    """`--engine pulumi --json`: stdout parses as the result alone; Pulumi's lines are on stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PULUMI_"))}
    env.update(install_stand_in(tmp_path, stacks=["dev"]))
    result = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "automation", "destroy", "--stack", "dev"]
        + ["--engine", "pulumi", "--json"],
        cwd=ROOT,
        env={**env, "PULUMI_CONFIG_PASSPHRASE": "stand-in"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == ExitCode.OK, result.stdout + result.stderr
    ran = [[a for a in c["argv"] if not a.startswith("-")][:1] for c in calls(tmp_path)]
    assert ["destroy"] in ran, ran  # the stand-in CLI ran `destroy`, and printed its progress
    payload = json.loads(result.stdout)  # the result, and nothing else
    assert payload["command"] == "destroy" and payload["status"] == "succeeded"
    said = [line for line in json_lines(result.stderr) if line.get("source") == "pulumi"]
    assert any("Destroying (dev)" in line["message"] for line in said), result.stderr


def test_the_reporter_writes_json_lines_off_a_terminal() -> None:
    out = io.StringIO()
    reporter = Reporter(False, out, stack="dev")
    reporter.event({"stage": "up", "status": "started"})
    reporter.lines("verify")("health: PASSED")
    reporter.lines("pulumi")("")  # Pulumi's blank layout lines carry nothing
    first, second = json_lines(out.getvalue())
    assert first == {"stage": "up", "status": "started"}
    assert {k: second[k] for k in ("stack", "source", "message")} == {
        "stack": "dev",
        "source": "verify",
        "message": "health: PASSED",
    }


def test_the_reporter_writes_human_lines_on_a_terminal() -> None:
    screen = Terminal()
    reporter = Reporter(True, screen)
    reporter.lines("verify")("health: PASSED")
    reporter.lines("pulumi", tagged=False)("Updating (dev):")
    reporter.close()
    text = screen.getvalue()
    assert "] health: PASSED" in text and "[verify " in text
    assert "Updating (dev):" in text and "[pulumi" not in text
    assert "{" not in text
