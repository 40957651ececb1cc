"""The sandbox keeps Pulumi's `protect` in its graph, and its pipeline destroy honours it.

`pulumi destroy` refuses resources whose state says `protect`; the sandbox records the option
per resource (the mock monitor sees it) and `destroy(honour_protection=True)`, which
`automation destroy` calls, refuses the same way. The plain `destroy()` is `sandbox down`.
No server starts: the program runs under the planning mocks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from common.paths import ROOT
from sandbox.engine import SandboxEngine
from sandbox.errors import SandboxError
from sandbox.mocks import PlanningMocks
from sandbox.program import load_stack_config, run_program


def planned_graph(stack: str) -> dict[str, dict[str, Any]]:
    mocks = PlanningMocks("us-east-1", {})
    run_program(ROOT, stack, mocks, config=load_stack_config(ROOT, stack), preview=True)
    return mocks.graph


def protected(graph: dict[str, dict[str, Any]]) -> set[tuple[str, str]]:
    return {(e["type"].rsplit(":", 1)[-1], e["name"]) for e in graph.values() if e["protect"]}


def test_the_graph_records_what_the_program_protects() -> None:
    assert protected(planned_graph("prod")) == {
        ("Table", "passport-prod-emails"),
        ("Table", "passport-prod-analytics"),
        ("Bucket", "passport-prod-artifacts"),
        ("Bucket", "passport-prod-media"),
    }
    assert protected(planned_graph("dev")) == set()  # deletionProtection: false


def test_destroy_honours_protect_only_when_asked(tmp_path: Path) -> None:
    engine = SandboxEngine("prod", state_root=tmp_path)
    engine.paths.dir.mkdir(parents=True)
    engine.paths.sandbox.write_text(json.dumps({"resources": planned_graph("prod")}))
    with pytest.raises(SandboxError, match="holds protected resources") as refused:
        engine.destroy(honour_protection=True)
    assert "passport-prod-emails" in str(refused.value)
    assert "deletionProtection: false in Pulumi.prod.yaml" in str(refused.value)
    assert engine.paths.sandbox.is_file()  # nothing stopped, nothing removed
    engine.destroy()  # `sandbox down`: the sandbox's own teardown
    assert not engine.paths.dir.exists()
