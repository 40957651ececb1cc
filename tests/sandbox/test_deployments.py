"""Deployments on one dev stack: idempotent re-up, blue/green replacement, a broken version
that never gets healthy (the old one keeps serving), history, a rollback, then `down`.

The tests share one deployed stack (each `up` boots gunicorn with rembg). Each starts from the
same state, whatever ran before it (the suite runs in random order too): the `dev` fixture puts
the stack back to serving app/'s version, healthy, after a test that changed it; a test that
needs more (a failed `up` before a rollback) sets that up itself.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from app.bundle import bundle_label
from common import pids
from common.paths import ROOT
from common.polling import WaitTimeout, wait_until
from sandbox import processes
from sandbox.app_variants import build_variant, cannot_start
from sandbox.engine import SandboxEngine
from sandbox.errors import SandboxError
from tests.support.cli_runner import run_module
from tests.support.sandbox_stacks import Deployed, deploy

pytestmark = pytest.mark.slow
#: gunicorn keeps a master whose workers cannot boot alive (as EB keeps the instance), so a
#: broken version fails on this deadline; a good one is healthy in ~3 s.
HEALTH_TIMEOUT = 30


@pytest.fixture(scope="module")
def dev_stack(state_root: Path) -> Iterator[Deployed]:
    """The module's dev stack, deployed once from app/."""
    deployed = deploy("dev", state_root, health_timeout=HEALTH_TIMEOUT)
    yield deployed
    deployed.engine.destroy()


@pytest.fixture()
def dev(dev_stack: Deployed) -> Deployed:
    """The dev stack as every test starts: up, serving app/'s version (the module's first
    deployment), healthy, its last deployment succeeded and no delete pending. What a test
    before left otherwise (another version, a failed `up`, `down`) is put back with an `up`."""
    if not _at_start(dev_stack):
        dev_stack.engine.up()
    dev_stack.outputs = dev_stack.engine.outputs()
    return dev_stack


def _at_start(dev: Deployed) -> bool:
    status = dev.engine.status()  # processes alive, moto answering, /health?deep=1 200
    if not status.get("ok"):
        return False
    first = dev.engine.history()[-1]["app_version"]
    return (
        status["health"]["version"] == first
        and status["last_deployment"]["result"] == "succeeded"
        and not _state(dev).get("pending_deletes")
    )


def health(url: str) -> dict:
    resp = requests.get(f"{url}/health", timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def live_app(dev: Deployed) -> processes.ProcessRecord:
    record = processes.ProcessRecord.from_dict(
        dev.engine.status()["app"] and _state(dev)["app"]["process"]
    )
    assert record is not None
    return record


def _state(dev: Deployed) -> dict:
    return json.loads(dev.engine.paths.sandbox.read_text())


def test_status_reports_outputs_url_and_health(dev: Deployed) -> None:
    status = dev.engine.status()
    assert status["deployed"] and status["health"]["ok"]
    assert status["health"]["version"] == dev.outputs["app_version"]
    assert status["app_url"] == dev.outputs["api_url"]
    assert status["outputs"] == dev.outputs
    assert all(status[p]["alive"] for p in ("moto", "proxy", "app"))
    state = _state(dev)
    assert state["aws_endpoint_url"].startswith("http://127.0.0.1:")
    assert state["deployments"][-1]["result"] == "succeeded"


def test_second_up_without_changes_is_a_no_op(dev: Deployed) -> None:
    before = live_app(dev)
    assert dev.engine.preview().has_changes is False
    outputs = dev.engine.up()
    assert outputs == dev.outputs
    assert live_app(dev) == before and processes.is_alive(before)
    last = dev.engine.history()[0]
    assert last["resource_changes"]["create"] == last["resource_changes"]["update"] == 0
    assert last["app"]["action"] == "unchanged"


def _wait_health(url: str, want: int, timeout: float = 180) -> requests.Response:
    """Until /health answers `want`. Restarted workers load the model first: on a loaded
    machine a request may time out meanwhile, which is waiting, not an answer."""
    last: list[requests.Response] = []

    def answered() -> tuple[requests.Response] | None:  # a Response is falsy when not ok
        try:
            resp = requests.get(f"{url}/health", timeout=10)
        except requests.RequestException:
            return None
        last[:] = [resp]
        return (resp,) if resp.status_code == want else None

    try:
        return wait_until(answered, timeout=timeout, what=f"/health {want}", interval=0.5)[0]
    except WaitTimeout:
        if last:
            return last[0]
        raise


def test_up_fails_when_the_version_left_serving_is_not_healthy(dev: Deployed) -> None:
    """Issue 14: `up` said "unchanged", exit 0, while the app answered 503 (model missing).

    The fault is real: the serving instance's model file disappears and gunicorn recycles its
    workers (as `max_requests` does), which then cannot load it.
    """
    serving = live_app(dev)
    release = Path(_state(dev)["app"]["release_dir"])
    model = next(release.glob("**/models/u2netp.onnx"))
    hidden = model.with_suffix(".moved")
    model.rename(hidden)
    try:
        os.kill(serving.pid, signal.SIGHUP)  # gunicorn: restart the workers
        assert _wait_health(dev.outputs["api_url"], 503).status_code == 503
        up = run_module(
            "sandbox",
            "up",
            "--stack",
            "dev",
            "--state-root",
            str(dev.engine.state_root),
            timeout=300,
        )
        assert up.returncode == 1, up.stderr
        assert "Traceback" not in up.stderr
        assert f"app version {dev.outputs['app_version']} is deployed but not healthy" in up.stderr
        assert "HTTP 503" in up.stderr and "model" in up.stderr
        assert dev.engine.history()[0]["result"] == "failed"
    finally:
        hidden.rename(model)
        os.kill(serving.pid, signal.SIGHUP)
    assert _wait_health(dev.outputs["api_url"], 200).status_code == 200
    assert dev.engine.up() == dev.outputs  # healthy again: the same no-op, exit 0


def test_preview_of_a_changed_bundle_shows_the_app_update(
    dev: Deployed, changed_bundle: Path
) -> None:
    preview = dev.engine.preview(changed_bundle)
    summary = preview.to_dict()
    changed = {
        t: ops for t, ops in summary["by_type"].items() if ops.get("update") or ops.get("create")
    }
    assert "aws:elasticbeanstalk/environment:Environment" in changed
    assert "aws:s3/bucketObjectv2:BucketObjectv2" in changed
    assert "aws:dynamodb/table:Table" not in changed  # nothing else moves
    # per resource, against the state the sandbox keeps: which properties change
    updates = {r["type"]: r for r in summary["resources"] if r["op"] == "update"}
    environment = updates["aws:elasticbeanstalk/environment:Environment"]
    # only the label: the app reads its version from the bundle (issue 10, item 6)
    assert "version" in environment["diffs"] and "settings" not in environment["diffs"]
    assert "name" not in environment["diffs"] and "application" not in environment["diffs"]
    # grouped by the component each resource belongs to, as `pulumi preview` nests them
    assert environment["component"] == "passport:app_environment:AppEnvironment"
    bundle_object = updates["aws:s3/bucketObjectv2:BucketObjectv2"]
    assert bundle_object["component"].startswith("passport:"), bundle_object
    assert all(r["component"] for r in summary["resources"] if r["type"].startswith("aws:"))
    markdown = preview.to_markdown()
    assert "#### passport:app_environment:AppEnvironment" in markdown
    assert "#### aws:elasticbeanstalk" not in markdown  # not the by-service fallback
    assert live_app(dev)  # preview touched nothing


def test_changed_bundle_replaces_the_app_behind_the_same_url(
    dev: Deployed, changed_bundle: Path
) -> None:
    old = live_app(dev)
    outputs = dev.engine.up(changed_bundle)
    label = bundle_label(changed_bundle)
    assert outputs["app_version"] == label != dev.outputs["app_version"]
    assert outputs["api_url"] == dev.outputs["api_url"]  # stable front door
    assert health(outputs["api_url"])["version"] == label
    assert not processes.is_alive(old)  # the old version was stopped after the switch
    assert dev.engine.history()[0]["app"]["previous_version"] == dev.outputs["app_version"]
    dev.outputs = outputs


def test_a_version_that_cannot_start_leaves_the_old_one_serving(
    dev: Deployed, broken_bundle: Path
) -> None:
    serving = live_app(dev)
    with pytest.raises(SandboxError) as err:
        dev.engine.up(broken_bundle)
    message = str(err.value)
    assert bundle_label(broken_bundle) in message
    assert "previous version keeps serving" in message
    assert "this version cannot start" in message  # the tail of its log says why
    assert health(dev.outputs["api_url"])["version"] == dev.outputs["app_version"]
    # dev deploys AllAtOnce (in place, like EB): the old version was stopped for the attempt and
    # is restarted on the same instance; the gap is measured and reported.
    assert processes.is_alive(live_app(dev)) and not processes.is_alive(serving)
    assert _state(dev)["app"]["version"] == dev.outputs["app_version"]
    assert "was restarted on 1 instance(s)" in message
    assert json.loads(dev.engine.paths.outputs.read_text()) == dev.outputs  # outputs untouched
    failed = dev.engine.history()[0]
    assert failed["result"] == "failed" and failed["serving_version"] == dev.outputs["app_version"]
    # Nothing of the broken version is left running.
    assert not _state(dev).get("starting")
    serving_dir = _state(dev)["app"]["release_dir"]
    assert _pids_in(dev.engine.paths.releases) == _pids_in(Path(serving_dir))


def _pids_in(folder: Path) -> list[int]:
    """Processes whose working directory is under `folder` (i.e. app versions we started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:
                continue
            if (cwd == str(folder) or cwd.startswith(f"{folder}/")) and pids.start_time(
                int(entry.name)
            ) is not None:
                found.append(int(entry.name))
    return found


def test_history_lists_every_deployment_newest_first(
    dev: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = dev.engine.history()
    dev.engine.up()  # unchanged: succeeded
    with monkeypatch.context() as patch:  # a failed `up`: the program raises
        patch.setattr(SandboxEngine, "_run", _program_fails)
        with pytest.raises(SandboxError, match="the program failed"):
            dev.engine.up()
    dev.engine.up()
    history = dev.engine.history()
    assert [h["result"] for h in history[:3]] == ["succeeded", "failed", "succeeded"]
    newest = len(earlier) + 3
    assert [h["version"] for h in history] == list(range(newest, 0, -1))
    assert history[3:] == earlier


def _program_fails(self: SandboxEngine, *args: object, **kwargs: object) -> dict:
    raise SandboxError("the program failed")


def test_eb_refuses_an_application_version_label_twice(
    dev: Deployed, changed_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EB's rule, modelled: redeploying an existing label as a *new* version resource fails."""
    first = dev.engine.history()[-1]["app_version"]
    bundle = ROOT / "build" / "bundles" / f"{first}.zip"
    assert bundle_label(bundle) == first
    dev.outputs = dev.engine.up(changed_bundle)  # another version serves: `first` is not declared
    monkeypatch.setattr(type(dev.engine), "_version_env", lambda self, bundle: {})
    with pytest.raises(SandboxError, match=f"Application Version {first} already exists"):
        dev.engine.up(bundle)
    assert health(dev.outputs["api_url"])["version"] == dev.outputs["app_version"]


def test_rollback_after_a_failed_up_references_the_existing_version(
    dev: Deployed, tmp_path: Path
) -> None:
    """Issue 10 item 5: rolling back to the first version passes under EB's rules."""
    first = dev.engine.history()[-1]["app_version"]
    # Labels new to EB, so that each `up` declares its version resource (one EB already holds,
    # e.g. from another test, is referenced instead): a new version serves, then a failed one.
    newer = build_variant(tmp_path / "newer", _marked("rollback: a newer version"))
    broken = build_variant(tmp_path / "broken", _marked("rollback: cannot start", cannot_start))
    dev.outputs = dev.engine.up(newer)
    with pytest.raises(SandboxError, match="cannot start"):
        dev.engine.up(broken)
    serving = dev.outputs["app_version"]
    # The failed up replaced the version resource (create before delete): the serving version
    # is pending delete, with the program's retain_on_delete as the mocks saw it.
    (pending,) = _state(dev)["pending_deletes"]
    assert pending["id"] == serving and pending["retain_on_delete"] is True
    bundle = ROOT / "build" / "bundles" / f"{first}.zip"
    outputs = dev.engine.up(bundle)
    assert outputs["app_version"] == first
    assert health(outputs["api_url"])["version"] == first
    state = _state(dev)
    versions = next(iter(state["eb"]["versions"].values()))
    assert first in versions  # kept by EB, not deleted by the deploy
    # The version resource the rollback no longer declares is retained, not deleted through
    # EB (sandbox/realise/deletes.py): it stays a rollback target, and no delete is pending.
    assert serving in versions and state["pending_deletes"] == []
    dev.outputs = outputs


def _marked(mark: str, *edits: Callable[[Path], None]) -> Callable[[Path], None]:
    """An edit of the app source: `edits`, and a comment that gives the bundle its own label."""

    def edit(source: Path) -> None:
        for change in edits:
            change(source)
        init = source / "passport_app" / "__init__.py"
        init.write_text(init.read_text() + f"\n# {mark}\n")

    return edit


def test_down_stops_every_process_and_frees_every_port(dev: Deployed) -> None:
    state = _state(dev)
    records = [
        processes.ProcessRecord.from_dict(state[k]["process"]) for k in ("moto", "proxy", "app")
    ]
    ports = [state["moto"]["port"], state["proxy"]["port"], state["app"]["port"]]
    releases = dev.engine.paths.releases
    dev.engine.destroy()
    assert not any(processes.is_alive(r) for r in records)
    assert not _pids_in(releases)  # gunicorn workers too, not only the master
    for port in ports:
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still listening"
    assert not dev.engine.paths.dir.exists()
    assert dev.engine.status() == {"stack": "dev", "deployed": False}
