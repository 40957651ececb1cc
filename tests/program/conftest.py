"""Fixtures for the Pulumi program tests: a real (tiny) bundle zip and the three stack graphs."""

from __future__ import annotations

import pytest

from tests.support.program_graph import FakeBundle, Graph, build_graph, make_fake_bundle
from tests.support.stack_files import stack_file_config

STACKS = ("dev", "staging", "prod")


@pytest.fixture(scope="session")
def fake_bundle(tmp_path_factory: pytest.TempPathFactory) -> FakeBundle:
    return make_fake_bundle(tmp_path_factory.mktemp("bundle"))


@pytest.fixture(scope="session")
def stack_graphs(fake_bundle: FakeBundle) -> dict[str, Graph]:
    """The program's graph for each committed stack file, built once per session."""
    return {stack: build_graph(stack, stack_file_config(stack), fake_bundle) for stack in STACKS}


@pytest.fixture(params=STACKS)
def stack_graph(request: pytest.FixtureRequest, stack_graphs: dict[str, Graph]) -> Graph:
    return stack_graphs[request.param]


def pytest_configure(config: pytest.Config) -> None:
    # pulumi_aws warns at import time about its own deprecated V2 aliases, which this program
    # does not use (test_stacks asserts no deprecation is logged for the declared resources).
    config.addinivalue_line(
        "filterwarnings", r"ignore:.*deprecated in favor of:DeprecationWarning:pulumi_aws"
    )
