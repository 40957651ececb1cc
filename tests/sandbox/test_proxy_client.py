"""The deployer's side of the proxy (sandbox.proxy.ProxyClient), against its two files only."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from common.jsonfile import write_json_atomic
from sandbox.errors import SandboxError
from sandbox.proxy import ProxyClient

INSTANCES = [{"name": "i-a", "port": 1001}, {"name": "i-b", "port": 1002}]


def _status(client: ProxyClient, generation: int, **backends: dict) -> None:
    write_json_atomic(client.status_file, {"generation": generation, "backends": backends})


def test_register_replaces_the_targets_and_counts_generations(tmp_path: Path) -> None:
    client = ProxyClient(tmp_path / "proxy-target")
    assert client.registered() == [] and client.status() == {}
    assert client.register(INSTANCES, {"path": "/health"}) == 1
    assert client.register(INSTANCES[:1], {"path": "/health"}) == 2
    assert client.registered() == [{"name": "i-a", "port": 1001, "version": None, "weight": 1}]
    # a traffic split: relative weights per instance, as TrafficSplitting registers them
    client.register(INSTANCES, {"path": "/health"}, weights={"i-a": 90, "i-b": 10})
    assert [b["weight"] for b in client.registered()] == [90, 10]


def test_wait_healthy_returns_once_every_instance_is_in_service(tmp_path: Path) -> None:
    client = ProxyClient(tmp_path / "proxy-target")
    _status(client, 1, **{"1001": {"state": "healthy"}, "1002": {"state": "healthy"}})
    client.wait_healthy(INSTANCES, timeout=5)


def test_wait_healthy_names_the_instances_that_never_pass(tmp_path: Path) -> None:
    client = ProxyClient(tmp_path / "proxy-target")
    _status(client, 1, **{"1001": {"state": "healthy"}, "1002": {"state": "unhealthy"}})
    with pytest.raises(SandboxError, match=r"\['i-a', 'i-b'\] did not pass the proxy's health"):
        client.wait_healthy(INSTANCES, timeout=0.3)


def test_wait_drained_waits_for_the_generation_and_in_flight_requests(tmp_path: Path) -> None:
    client = ProxyClient(tmp_path / "proxy-target")
    _status(client, 3, **{"1001": {"in_flight": 0}})
    assert client.wait_drained(INSTANCES[:1], generation=3, timeout=5) < 1


def test_a_drain_that_outlasts_its_timeout_is_cut_short_not_an_error(tmp_path: Path) -> None:
    client = ProxyClient(tmp_path / "proxy-target")
    _status(client, 2, **{"1001": {"in_flight": 4}})
    started = time.monotonic()
    waited = client.wait_drained(INSTANCES[:1], generation=2, timeout=0.3)
    assert 0.3 <= waited < 2 and time.monotonic() - started < 2
