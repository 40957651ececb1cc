"""`history` names the canary's decision and reason, and the bake's, per deployment."""

from __future__ import annotations

import time

import pytest

from automation.history import canary_cell, print_history


def test_the_canary_cell_names_decision_reason_and_bake() -> None:
    assert canary_cell({}) == ""
    aborted = {"decision": "fail", "aborted": True, "reason": "critical metric error_rate_5xx High"}
    assert canary_cell(aborted) == "fail (aborted): critical metric error_rate_5xx High"
    baked = {
        "decision": "pass",
        "aborted": False,
        "reason": "score 100 (pass)",
        "bake": {"passed": False, "reason": "alarm prod-5xx-rate fired during the bake"},
    }
    assert canary_cell(baked) == (
        "pass: score 100 (pass); bake failed: alarm prod-5xx-rate fired during the bake"
    )


def test_history_table_shows_it(capsys: pytest.CaptureFixture[str]) -> None:
    item = {
        "started_at": time.time(),
        "finished_at": time.time() + 60,
        "id": "abc123",
        "kind": "deploy",
        "app_version": "v-new",
        "status": "canary_aborted",
        "canary": {"decision": "marginal", "aborted": True, "reason": "latency_p75 High"},
    }
    print_history({"stack": "prod", "deployments": [item], "engine_history": []})
    out = capsys.readouterr().out
    assert "canary_aborted" in out and "marginal (aborted)" in out
