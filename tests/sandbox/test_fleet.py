"""The prod fleet: `minInstances` app instances behind the load balancer, and a TrafficSplitting
deployment under steady traffic that no client notices.

One prod stack (2 instances, TrafficSplitting) is deployed; traffic runs from a few client
threads through `api_url` while a new version is deployed (its 10-minute evaluation played 200
times faster: no judge runs here, the engine alone); every request must succeed, both versions
must have answered, in the split's proportion, and afterwards only the new fleet serves, with
state and outputs naming it.
Traffic is health + email-validate (cheap) so the test stays short on a shared 2-core machine.
The tests on the deployed stack are marked slow; EB's batch-size rounding is a plain unit test.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from app.bundle import bundle_label
from common.polling import wait_until
from sandbox import processes
from sandbox.errors import SandboxError
from sandbox.fleet import FleetShape
from sandbox.instances import instances_of
from sandbox.proxy import ProxyClient, upstream_request
from sandbox.serving import recover_interrupted_switch
from sandbox.state import SandboxState
from tests.support.sandbox_stacks import Deployed, deploy


@pytest.fixture(scope="module")
def prod(state_root: Path) -> Iterator[Deployed]:
    deployed = deploy("prod", state_root, health_timeout=60, time_scale=200)
    yield deployed
    deployed.engine.destroy()


def _state(prod: Deployed) -> dict:
    return json.loads(prod.engine.paths.sandbox.read_text())


class Traffic:
    """Client threads sending requests through the load balancer until stopped."""

    def __init__(self, url: str, clients: int = 3) -> None:
        self.url = url
        self.stop = threading.Event()
        self.results: list[tuple[float, str, int | str, str | None, str | None]] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(clients)]

    def _run(self, n: int) -> None:
        session = requests.Session()  # keep-alive: the balancer routes per request anyway
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                if i % 4 == 0:
                    resp = session.post(
                        f"{self.url}/api/v1/email/validate",
                        json={"email": f"success+fleet{n}-{i}@simulator.amazonses.com"},
                        timeout=15,
                    )
                    kind, version, instance = "email", None, None
                else:
                    resp = session.get(f"{self.url}/health", timeout=15)
                    body = resp.json()
                    kind, version, instance = "health", body.get("version"), body.get("instance_id")
                ok = resp.status_code in (200, 202)
                outcome: int | str = resp.status_code if ok else f"HTTP {resp.status_code}"
            except (requests.RequestException, ValueError) as exc:
                kind, outcome, version, instance = "error", type(exc).__name__, None, None
            with self.lock:
                self.results.append((time.monotonic(), kind, outcome, version, instance))
            time.sleep(0.05)

    def __enter__(self) -> Traffic:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)

    def failures(self) -> list[tuple]:
        return [r for r in self.results if not isinstance(r[2], int)]


@pytest.mark.slow
def test_prod_runs_min_instances_behind_the_load_balancer(prod: Deployed) -> None:
    state = _state(prod)
    fleet = instances_of(state["app"])
    assert len(fleet) == prod.setting("minInstances") == 2
    assert all(processes.is_alive(processes.ProcessRecord.from_dict(i["process"])) for i in fleet)
    assert state["app"]["policy"] == "TrafficSplitting"
    seen = Counter(
        requests.get(f"{prod.outputs['api_url']}/health", timeout=10).json()["instance_id"]
        for _ in range(8)
    )
    # Round robin: both instances answer, evenly.
    assert set(seen) == {i["name"] for i in fleet}
    assert sorted(seen.values()) == [4, 4]


@pytest.mark.slow
def test_forwarded_for_is_appended_like_an_alb(prod: Deployed) -> None:
    status_file = prod.engine.paths.proxy_target.with_name("proxy-target.status.json")

    def settled() -> bool:
        # After a test that changed the fleet, drained instances and ones still in their first
        # health checks are listed for a few seconds.
        backends = json.loads(status_file.read_text())["backends"].values()
        return all(b["state"] == "healthy" for b in backends)

    wait_until(settled, timeout=30, what="every instance behind the balancer healthy")
    resp = requests.get(
        f"{prod.outputs['api_url']}/nowhere", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=10
    )
    assert resp.status_code == 404  # routed to the app (its JSON 404), not refused by the proxy
    assert resp.json()["error"]["code"] == "not_found"


def test_the_proxy_appends_the_client_to_forwarded_for() -> None:
    relayed = upstream_request(
        "GET / HTTP/1.1", [("Host", "x"), ("X-Forwarded-For", "203.0.113.9")], b"", "10.0.0.7", 80
    )
    # The ALB appends the client, nginx appends the ALB (loopback here): ProxyFix(x_for=2).
    assert b"X-Forwarded-For: 203.0.113.9, 10.0.0.7, 127.0.0.1\r\n" in relayed
    assert b"X-Forwarded-Proto: http\r\n" in relayed


@pytest.mark.slow
def test_traffic_split_deploy_under_steady_traffic_fails_no_request(
    prod: Deployed, changed_bundle: Path
) -> None:
    old_version = prod.outputs["app_version"]
    old_fleet = instances_of(_state(prod)["app"])
    new_label = bundle_label(changed_bundle)
    with Traffic(prod.outputs["api_url"]) as traffic:
        time.sleep(1.5)  # steady traffic before
        outputs = prod.engine.up(changed_bundle)
        switched = time.monotonic()
        time.sleep(2.0)  # and after
    assert traffic.failures() == [], traffic.failures()[:5]
    versions = Counter(r[3] for r in traffic.results if r[1] == "health")
    assert versions[old_version] > 0 and versions[new_label] > 0, versions
    assert any(r[1] == "email" for r in traffic.results)
    # Once `up` returned, only the new fleet answers.
    after = [r for r in traffic.results if r[0] > switched + 0.5 and r[1] == "health"]
    new_fleet = instances_of(_state(prod)["app"])
    assert after and {r[3] for r in after} == {new_label}
    assert {r[4] for r in after} == {i["name"] for i in new_fleet}
    # State, outputs and processes agree: the new version serves on 2 instances, old ones gone.
    assert outputs["app_version"] == new_label
    assert json.loads(prod.engine.paths.outputs.read_text())["app_version"] == new_label
    assert len(new_fleet) == 2 and not {i["name"] for i in new_fleet} & {
        i["name"] for i in old_fleet
    }
    assert not any(
        processes.is_alive(processes.ProcessRecord.from_dict(i["process"])) for i in old_fleet
    )
    last = prod.engine.history()[0]["app"]
    assert last["policy"] == "TrafficSplitting" and last["gap_s"] is None
    events = [e["event"] for e in last["timeline"]]
    # A full new set in service, then the split for the evaluation, before the old one leaves.
    assert (
        events.index("in service")
        < events.index("traffic split")
        < events.index("evaluation passed")
        < events.index("switched")
        < events.index("drained and stopped")
    )
    split = next(e for e in last["timeline"] if e["event"] == "traffic split")
    assert split["percent"] == 50 and split["evaluation_s"] == 3.0
    assert not _state(prod).get("deploying") and not _state(prod).get("switch")
    prod.outputs = outputs  # what the stack serves now, for the tests that follow


@pytest.mark.slow
def test_an_interrupted_switch_is_finished_or_undone_from_the_target_file(prod: Deployed) -> None:
    """A process killed between the commit (target file) and the state write is finished on the
    next command; one killed before the commit is undone (the new instances stopped)."""
    state = SandboxState(prod.engine.paths)
    lb = ProxyClient(prod.engine.paths.proxy_target)
    app = state.get("app")
    # Killed after the commit: the journal names the fleet the target file already has.
    fake_new = {**app, "version": "v-committed"}
    with state.update() as data:
        data["switch"] = {"app": fake_new, "registered": instances_of(app)}
    assert recover_interrupted_switch(state, lb) == "finished"
    assert state.get("app")["version"] == "v-committed"
    assert json.loads(prod.engine.paths.outputs.read_text())["app_version"] == "v-committed"
    # Killed before the commit: a journalled new instance that never took traffic is stopped.
    stray, _ = processes.spawn(
        ["sleep", "60"], cwd=prod.engine.paths.dir, env={}, log=prod.engine.paths.logs / "x.log"
    )
    with state.update() as data:
        data["deploying"] = {
            "instances": [{"name": "i-stray", "port": 1, "process": stray.to_dict()}]
        }
        data["switch"] = {"app": {**app, "version": "v-never"}, "registered": []}
    assert recover_interrupted_switch(state, lb) == "undone"
    assert not processes.is_alive(stray)
    assert state.get("app")["version"] == "v-committed"
    assert {b["port"] for b in lb.registered()} == {i["port"] for i in instances_of(app)}
    # Put the real version back for the following tests.
    with state.update() as data:
        data["app"] = app
    prod.engine.paths.outputs.write_text(json.dumps(prod.outputs))


@pytest.mark.parametrize(
    ("name", "value"),
    [("NewVersionPercent", "0"), ("NewVersionPercent", "101"), ("EvaluationTime", "2"),
     ("EvaluationTime", "601"), ("EvaluationTime", "ten")],
)  # fmt: skip
def test_traffic_splitting_options_are_held_to_ebs_ranges(name: str, value: str) -> None:
    settings = [
        {"namespace": "aws:elasticbeanstalk:command", "name": "DeploymentPolicy",
         "value": "TrafficSplitting"},
        {"namespace": "aws:elasticbeanstalk:trafficsplitting", "name": name, "value": value},
    ]  # fmt: skip
    with pytest.raises(SandboxError, match=f"{name}: got '{value}'; allowed an integer"):
        FleetShape.from_settings(settings)


def test_traffic_splitting_options_are_read() -> None:
    ns = "aws:elasticbeanstalk:trafficsplitting"
    shape = FleetShape.from_settings(
        [
            {"namespace": ns, "name": "NewVersionPercent", "value": "1"},
            {"namespace": ns, "name": "EvaluationTime", "value": "600"},
        ]
    )
    assert (shape.new_version_percent, shape.evaluation_minutes) == (1, 600)


@pytest.mark.parametrize(
    ("policy", "size", "batch"),
    [("Rolling", 4, 2), ("RollingWithAdditionalBatch", 6, 2), ("Immutable", 2, 1)],
)
def test_batch_size_follows_eb_rounding(policy: str, size: int, batch: int) -> None:
    settings = [
        {"namespace": "aws:autoscaling:asg", "name": "MinSize", "value": str(size)},
        {"namespace": "aws:elasticbeanstalk:command", "name": "DeploymentPolicy", "value": policy},
        {
            "namespace": "aws:elasticbeanstalk:command",
            "name": "BatchSizeType",
            "value": "Percentage",
        },
        {"namespace": "aws:elasticbeanstalk:command", "name": "BatchSize", "value": "30"},
    ]
    shape = FleetShape.from_settings(settings)
    assert (shape.size, shape.policy, shape.batch()) == (size, policy, batch)
