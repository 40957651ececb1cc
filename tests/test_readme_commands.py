"""Every `python -m automation|sandbox|verify …` line in the README parses as documented.

Each documented line goes through the real CLI's parser (typer/click, with the `--stack`
validation callbacks), so a renamed command or option, a flag offered to the wrong command or
a stack without a Pulumi.<stack>.yaml fails here. Each command's --help must carry an example
and the exit-code table. (Running them is covered where each runs for real: the pipeline,
sandbox, verify and interrupt tests.)
"""

from __future__ import annotations

import re
import shlex

import pytest
import typer

from automation.cli import app as automation_app
from common.paths import ROOT
from sandbox.cli import app as sandbox_app
from tests.support.readme_commands import COMMANDS
from verify.cli import APP as verify_app

APPS = {"automation": automation_app, "sandbox": sandbox_app, "verify": verify_app}


def test_the_readme_documents_every_command() -> None:
    seen = {tuple(shlex.split(line)[2:4]) for line in COMMANDS}
    for name in ("automation", "sandbox"):
        group = typer.main.get_command(APPS[name])
        for command in group.list_commands(None):  # type: ignore[attr-defined,arg-type]
            assert (name, command) in seen, f"README does not show `python -m {name} {command}`"
    assert any(module == "verify" for module, _ in seen)


@pytest.mark.parametrize("line", COMMANDS)
def test_documented_line_parses(line: str) -> None:
    words = shlex.split(line.replace('"$STACK"', "staging"))
    module, args = words[2], words[3:]
    cli = typer.main.get_command(APPS[module])
    with cli.make_context(f"python -m {module}", list(args)) as ctx:
        if module != "verify":
            sub = cli.get_command(ctx, args[0])  # type: ignore[attr-defined]
            assert sub is not None, line
            sub.make_context(args[0], list(args[1:]), parent=ctx)
        else:
            sub = cli
    assert "Example: python -m" in (sub.help or "") and "Exit codes" in (sub.epilog or ""), line


def test_a_wrong_line_would_fail() -> None:
    """The walk catches drift: an option the command does not take is refused."""
    cli = typer.main.get_command(automation_app)
    with cli.make_context("python -m automation", ["preview", "--to", "v-1"]) as ctx:
        sub = cli.get_command(ctx, "preview")  # type: ignore[attr-defined]
        with pytest.raises(Exception, match="No such option"):
            sub.make_context("preview", ["--stack", "dev", "--to", "v-1"], parent=ctx)


def workflow_lines() -> list[str]:
    lines = []
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        text = re.sub(r">-\n\s+", "", path.read_text(encoding="utf-8"))
        text = re.sub(r"\n\s{10,}(--)", r" \1", text)  # folded `run: >-` continuation lines
        lines += re.findall(r"python -m automation [^\n#]+", text)
    return [line.strip() for line in lines]


@pytest.mark.parametrize("line", workflow_lines())
def test_workflow_invocations_still_parse(line: str) -> None:
    """GitHub Actions call `python -m automation …`: the new CLI must accept those lines."""
    test_documented_line_parses(line.replace('"reports/$STACK"', "reports/staging"))
