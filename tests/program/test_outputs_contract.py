"""The stack outputs contract (`common.contracts.OUTPUTS`) ties the program to verify.

The program exports exactly these keys with these types, and verify accepts exactly what the
program exports: adding an output is one entry in the contract, and forgetting the program
side (or typing it wrongly) fails here, not in a deployment's verify stage.
"""

from __future__ import annotations

import pytest

from common.contracts import OUTPUTS
from tests.program.harness import Graph
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
