"""The stack outputs contract (`common.contracts.OUTPUTS`) ties the program to verify.

The program exports exactly these keys with these types (a drift fails at export time), and
verify accepts exactly what the program exports: adding an output is one entry in the
contract, and forgetting the program side (or typing it wrongly) fails here, not in a
deployment's verify stage.
"""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest

from common.contracts import OUTPUTS
from components import backend
from components.backend import STACK_OUTPUTS, OutputsContractError, PassportPhotoBackend
from tests.support.program_graph import Graph
from verify.outputs import OutputsError, validate


def test_program_exports_exactly_the_contract(stack_graph: Graph) -> None:
    assert list(stack_graph.outputs) == list(OUTPUTS)
    for key, expected in OUTPUTS.items():
        value = stack_graph.outputs[key]
        assert isinstance(value, expected), f"{key}: {type(value).__name__}, want {expected}"


def test_verify_accepts_what_the_program_exports(stack_graph: Graph) -> None:
    assert validate(dict(stack_graph.outputs), OUTPUTS) == stack_graph.outputs


@pytest.mark.parametrize("key", ["api_url", "latency_budget_ms", "load_test"])
def test_verify_refuses_an_export_the_program_dropped_or_mistyped(
    stack_graph: Graph, key: str
) -> None:
    """The tie above fails on the fault it guards: a dropped or mistyped output."""
    dropped = {k: v for k, v in stack_graph.outputs.items() if k != key}
    with pytest.raises(OutputsError, match=f"missing output '{key}'"):
        validate(dropped, OUTPUTS)
    mistyped = {**stack_graph.outputs, key: ["not", "this"]}
    with pytest.raises(OutputsError, match=key):
        validate(mistyped, OUTPUTS)


def _built_backend() -> SimpleNamespace:
    """What stack_outputs reads of a built backend (its children stand in as mocks)."""
    config = SimpleNamespace(
        stack="dev",
        region="us-east-1",
        sender_email="noreply@example.com",
        cors_allowed_origins=("https://example.com",),
        latency_budget_ms=1500,
        max_upload_mb=10,
        load_test={"users": 1},
    )
    child = mock.MagicMock()
    return SimpleNamespace(
        config=config,
        app=child,
        storage=child,
        datastore=child,
        mailer=child,
        monitoring=child,
        dashboard=child,
    )


def test_exports_are_the_contract_in_its_order() -> None:
    exported = PassportPhotoBackend.stack_outputs(_built_backend())  # type: ignore[arg-type]
    assert list(exported) == list(OUTPUTS) == list(STACK_OUTPUTS)


def test_an_output_only_in_the_contract_fails_the_export(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "OUTPUTS", {**OUTPUTS, "new_output": str})
    with pytest.raises(OutputsContractError, match=r"missing \['new_output'\]"):
        PassportPhotoBackend.stack_outputs(_built_backend())  # type: ignore[arg-type]


def test_an_export_missing_from_the_contract_fails_the_export(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(backend, "OUTPUTS", {k: v for k, v in OUTPUTS.items() if k != "stack"})
    with pytest.raises(OutputsContractError, match=r"not in the contract \['stack'\]"):
        PassportPhotoBackend.stack_outputs(_built_backend())  # type: ignore[arg-type]


def test_the_eb_cname_is_its_own_output_and_api_url_is_built_on_it_only_without_tls(
    stack_graph: Graph,
) -> None:
    """Issue 21: the CNAME users point their DNS at is exported apart from api_url (with a
    certificate api_url names publicBaseUrl's host instead; test_app_environment.py)."""
    assert "eb_cname" in OUTPUTS and OUTPUTS["eb_cname"] is str
    outputs = stack_graph.outputs
    assert outputs["api_url"] == f"http://{outputs['eb_cname']}"  # no certificate here
