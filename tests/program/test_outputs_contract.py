"""The program exports exactly common.contracts.OUTPUTS, and a drift fails at export time."""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest

from common.contracts import OUTPUTS
from components import backend
from components.backend import STACK_OUTPUTS, OutputsContractError, PassportPhotoBackend


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
        config=config, app=child, storage=child, datastore=child, mailer=child, monitoring=child
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
