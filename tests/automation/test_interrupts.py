"""SIGINT/SIGTERM sent to real CLI processes: what a cancelled GitHub Actions job or a Ctrl-C does.

Each case starts `python -m automation run` or `python -m sandbox up` as a subprocess on a
private sandbox state folder, waits until the audit log (or the sandbox state) shows it is in
the stage under test, sends a real signal, and then asserts what the issue asks: exit 130/143,
one line and no traceback, no process the command started left running, the state naming the
version that serves, the deployment record `interrupted`, the audit log saying so.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from automation.records import FileRecordStore
from common.paths import ROOT, StackPaths
from sandbox.app_variants import build_variant, new_version
from sandbox.engine import SandboxEngine
from sandbox.state import stack_lock
from tests.support.cli_runner import run_module

pytestmark = pytest.mark.slow

STACK = "dev"


def pids_mentioning(text: str) -> set[int]:
    """Live processes whose command line or working folder mentions `text` (our state root)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (text in cmdline or text in cwd):
            found.add(int(entry.name))
    return found


def start(
    module: str, *args: str, state_root: Path, report_dir: Path, only: str = "readiness,health"
) -> subprocess.Popen:
    argv = [sys.executable, "-m", module, *args, "--stack", STACK, "--state-root", str(state_root)]
    if module == "automation":
        argv += ["--report-dir", str(report_dir), "--only", only]
    return subprocess.Popen(  # noqa: S603 - our own CLI
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CI": "true"},
    )


def audit(report_dir: Path) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for path in sorted(report_dir.glob("*/pipeline.jsonl")):
        lines += [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return lines


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"exited {proc.returncode} before {what}:\n{out[-2000:]}\n{err[-3000:]}")
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"timed out waiting for {what}")


def interrupt(proc: subprocess.Popen, sig: signal.Signals) -> tuple[int, str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=240)
    return proc.returncode, out, err


def stage_started(report_dir: Path, stage: str) -> Callable[[], bool]:
    return lambda: any(e["stage"] == stage and e["status"] == "started" for e in audit(report_dir))


def assert_truthful_interrupt(
    report_dir: Path, stage: str, code: int, out: str, err: str, sig: signal.Signals
) -> dict[str, Any]:
    expected = 130 if sig == signal.SIGINT else 143
    assert code == expected, out[-2000:] + err[-3000:]
    assert "Traceback" not in err and "Traceback" not in out
    events = audit(report_dir)
    assert {"stage": stage, "status": "interrupted"}.items() <= next(
        e for e in events if e["stage"] == stage and e["status"] != "started"
    ).items()
    final = events[-1]
    assert final["stage"] == "run" and final["status"] == "interrupted"
    assert final["exit"] == expected
    assert not any(e["stage"] == "run" and e["status"] == "succeeded" for e in events)
    payload = json.loads(out)
    assert payload["status"] == "interrupted" and stage in payload["message"]
    return payload


def serving(state_root: Path) -> tuple[str | None, str | None, str | None]:
    """(outputs.json app_version, sandbox.json app version, what /health answers)."""
    outputs_path = state_root / STACK / "outputs.json"
    if not outputs_path.exists():
        return None, None, None
    outputs = json.loads(outputs_path.read_text())
    state = json.loads((state_root / STACK / "sandbox.json").read_text())
    live = requests.get(f"{outputs['api_url']}/health", timeout=10).json()["version"]
    return outputs["app_version"], (state.get("app") or {}).get("version"), live


def records(state_root: Path) -> list[Any]:
    return FileRecordStore(state_root / ".records" / f"{STACK}.json").list()


def test_sigint_during_check_stops_the_throwaway_sandbox(state_root: Path, tmp_path: Path) -> None:
    before = pids_mentioning(str(state_root))
    recorded = records(state_root)
    proc = start("automation", "run", "--json", state_root=state_root, report_dir=tmp_path)
    check_sandbox = state_root / ".check"
    wait_for(
        lambda: any(
            "moto" in json.loads(p.read_text() or "{}")
            for p in check_sandbox.glob("*/*/sandbox.json")
        ),
        proc,
        "the check stage's sandbox to start moto",
    )
    code, out, err = interrupt(proc, signal.SIGINT)
    assert_truthful_interrupt(tmp_path, "check", code, out, err, signal.SIGINT)
    assert pids_mentioning(str(state_root)) == before  # moto and proxy of the check are gone
    assert not list(check_sandbox.glob("*"))  # and their folder
    assert records(state_root) == recorded  # nothing was deployed, nothing recorded


@pytest.fixture(scope="module")
def first_deployment(state_root: Path) -> str:
    """A first deployment to interrupt later ones against (no check stage: `up`)."""
    result = run_module("sandbox", "up", "--stack", STACK, "--state-root", str(state_root))
    assert result.returncode == 0, result.stderr[-3000:]
    version, _, live = serving(state_root)
    assert version == live
    return str(version)


@pytest.fixture()
def deployed(state_root: Path, first_deployment: str) -> str:
    """The stack as every test starts: app/'s version serving, moto, proxy and app alive.

    A test before may have left another version serving, killed the stack's moto or taken the
    stack down (the module runs in any order): that is put right with `down` and `up` here.
    """
    status = SandboxEngine(STACK, state_root=state_root).status()
    if status["deployed"] and not status["ok"]:
        down = cli("sandbox", "down", state_root=state_root)
        assert down.returncode == 0, down.stderr[-3000:]
    if serving(state_root) != (first_deployment,) * 3:
        up = cli("sandbox", "up", state_root=state_root)
        assert up.returncode == 0, up.stderr[-3000:]
    return first_deployment


def test_sigint_during_the_blue_green_switch_keeps_the_old_version_serving(
    state_root: Path, deployed: str, tmp_path: Path
) -> None:
    before = pids_mentioning(str(state_root))
    bundle = build_variant(tmp_path / "v2", new_version)
    proc = start(
        "sandbox", "up", "--bundle", str(bundle), state_root=state_root, report_dir=tmp_path
    )
    state_file = state_root / STACK / "sandbox.json"
    wait_for(
        lambda: bool(json.loads(state_file.read_text()).get("starting")),
        proc,
        "the new version to start (health wait before the switch)",
    )
    code, out, err = interrupt(proc, signal.SIGINT)
    assert code == 130, err[-3000:]
    assert "Traceback" not in err and "interrupted by SIGINT" in err.splitlines()[-1]
    assert serving(state_root) == (deployed, deployed, deployed)  # state = what serves
    # dev deploys AllAtOnce (EB's in-place policy): the old instance was already stopped when
    # the signal came, so the undo restarted it. As many processes as before, and every new one
    # runs the old version's release: the new version's gunicorn is gone.
    after = pids_mentioning(str(state_root))
    assert len(after) == len(before)
    for pid in after - before:
        assert f"/releases/{deployed}" in os.readlink(f"/proc/{pid}/cwd"), pid
    history = json.loads((state_root / STACK / "sandbox.json").read_text())["deployments"]
    assert history[-1]["result"] == "interrupted"


def test_sigterm_during_up_marks_the_record_interrupted(
    state_root: Path, deployed: str, tmp_path: Path
) -> None:
    # Another version serves first, so the run's `up` is a real blue/green switch (seconds
    # long), not an "unchanged" no-op the signal could miss.
    other = build_variant(tmp_path / "other", new_version)
    switched = cli("sandbox", "up", "--bundle", str(other), state_root=state_root)
    assert switched.returncode == 0, switched.stderr[-2000:]
    before = pids_mentioning(str(state_root))
    proc = start("automation", "run", "--json", state_root=state_root, report_dir=tmp_path)
    wait_for(stage_started(tmp_path, "up"), proc, "the up stage")
    code, out, err = interrupt(proc, signal.SIGTERM)
    payload = assert_truthful_interrupt(tmp_path, "up", code, out, err, signal.SIGTERM)
    (record,) = [r for r in records(state_root) if r.id == payload["deployment_id"]]
    assert record.status == "interrupted" and "SIGTERM during up" in record.message
    outputs_version, state_version, live = serving(state_root)
    assert outputs_version == state_version == live
    assert pids_mentioning(str(state_root)) <= before | _stack_processes(state_root)


def test_sigint_during_verify_marks_the_record_interrupted(
    state_root: Path, deployed: str, tmp_path: Path
) -> None:
    proc = start(  # ml runs every test photo: a verify stage long enough to interrupt
        "automation", "run", "--json", state_root=state_root, report_dir=tmp_path, only="ml"
    )
    wait_for(stage_started(tmp_path, "verify"), proc, "the verify stage")
    code, out, err = interrupt(proc, signal.SIGINT)
    payload = assert_truthful_interrupt(tmp_path, "verify", code, out, err, signal.SIGINT)
    (record,) = [r for r in records(state_root) if r.id == payload["deployment_id"]]
    assert record.status == "interrupted" and "during verify" in record.message
    outputs_version, state_version, live = serving(state_root)
    assert outputs_version == state_version == live
    assert pids_mentioning(str(state_root)) == _stack_processes(state_root)
    assert not list((state_root / ".check").glob("*"))


def _stack_processes(state_root: Path) -> set[int]:
    """The stack's own moto, proxy and app (process groups): what `down` stops, nothing more."""
    state = json.loads((state_root / STACK / "sandbox.json").read_text())
    groups = {state[k]["process"]["pid"] for k in ("moto", "proxy", "app") if state.get(k)}
    found = set()
    for pid in pids_mentioning(str(state_root)):
        try:
            if os.getpgid(pid) in groups:
                found.add(pid)
        except ProcessLookupError:
            continue
    return found


def cli(
    module: str, *args: str, state_root: Path, timeout: float = 600
) -> subprocess.CompletedProcess:
    if module == "automation" and args[0] != "outputs":
        args = (*args, "--report-dir", str(state_root / "reports"))  # not the worktree's
    return run_module(
        module,
        *args,
        "--stack",
        STACK,
        "--state-root",
        str(state_root),
        env={**os.environ, "CI": "true"},
        timeout=timeout,
    )


def test_rollback_exit_codes_are_honest(state_root: Path, deployed: str) -> None:
    """Nothing to roll back to is 5 (not 4, which pages); a mistyped version is a usage error."""
    typo = cli("automation", "rollback", "--to", "v-000000000000", state_root=state_root)
    assert typo.returncode == 2, typo.stderr[-2000:]
    assert "unknown version 'v-000000000000'" in typo.stderr and "Traceback" not in typo.stderr
    nothing = cli("automation", "rollback", state_root=state_root)
    assert nothing.returncode == 5, nothing.stderr[-2000:]
    assert "nothing to roll back to" in nothing.stdout
    assert serving(state_root)[2] == deployed  # left as it was


def test_verify_from_the_outputs_file_alone(
    state_root: Path, deployed: str, tmp_path: Path
) -> None:
    outputs = state_root / STACK / "outputs.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    argv = [sys.executable, "-m", "verify", "--only", "dynamodb,health"]
    ok = subprocess.run(  # noqa: S603
        [*argv, "--outputs", str(outputs), "--report-dir", str(tmp_path / "r")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr[-3000:]
    copied = tmp_path / "outputs.json"
    copied.write_text(outputs.read_text())  # away from its sandbox state: name the variable
    lost = subprocess.run(  # noqa: S603
        [*argv, "--outputs", str(copied)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert lost.returncode == 2 and "AWS_ENDPOINT_URL is not set" in lost.stderr
    assert "NoCredentialsError" not in lost.stderr


def test_a_locked_stack_is_waited_for(state_root: Path, deployed: str) -> None:
    held, release = threading.Event(), threading.Event()

    def hold(seconds: float = 4) -> None:
        with stack_lock(StackPaths(state_root, STACK)):
            held.set()
            release.wait(seconds)

    # Held until the CLI says it is waiting (read from its stderr as it runs), never on a
    # timer: on a loaded machine the CLI's start alone can outlast any fixed hold.
    holder = threading.Thread(target=hold, args=(300,))
    holder.start()
    held.wait(10)
    args = ("up", "--json", "--lock-timeout", "120", "--report-dir", str(state_root / "reports"))
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [
            sys.executable,
            "-m",
            "automation",
            *args,
            "--stack",
            STACK,
            "--state-root",
            str(state_root),
        ],
        cwd=ROOT,
        env={**os.environ, "CI": "true"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    said: list[str] = []
    for line in proc.stderr:
        said.append(line)
        if '"waiting"' in line:
            break
    release.set()
    rest_out, rest_err = proc.communicate(timeout=600)
    holder.join()
    stderr = "".join(said) + rest_err
    assert proc.returncode == 0, stderr[-3000:]
    waits = [json.loads(x) for x in stderr.splitlines() if '"waiting"' in x]
    assert waits and "is being changed by another command" in waits[0]["detail"]
    held.clear()
    release.clear()
    short = threading.Thread(target=hold, args=(20,))  # longer than the CLI's start + 1 s
    short.start()
    held.wait(10)
    refused = cli("automation", "up", "--lock-timeout", "1", state_root=state_root)
    release.set()  # still held when the CLI gave up; no need to sit out the 20 s
    short.join()
    assert refused.returncode == 1 and "gave up after waiting" in refused.stderr


def test_a_killed_run_is_cleaned_by_the_next_command(state_root: Path, deployed: str) -> None:
    """SIGKILL (no cleanup possible): the next command stops the orphans and says so."""
    before = pids_mentioning(str(state_root))
    bundle = build_variant(state_root.parent / "kill-v2", new_version)
    proc = start("sandbox", "up", "--bundle", str(bundle), state_root=state_root, report_dir=ROOT)
    state_file = state_root / STACK / "sandbox.json"
    wait_for(lambda: bool(json.loads(state_file.read_text()).get("starting")), proc, "switch")
    proc.kill()
    proc.communicate()
    orphans = pids_mentioning(str(state_root)) - before
    assert orphans  # the new version's gunicorn, left running by the killed deploy
    again = cli("sandbox", "up", state_root=state_root)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "cleaned a stale lock" in again.stderr and "stopped orphan app process" in again.stderr
    # dev is AllAtOnce: the kill came after the old instance was stopped in place, so the next
    # `up` restarts the deployed version. As many processes as before, none of them an orphan.
    after = pids_mentioning(str(state_root))
    assert len(after) == len(before) and not after & orphans
    for pid in after - before:
        assert f"/releases/{deployed}" in os.readlink(f"/proc/{pid}/cwd"), pid
    assert serving(state_root) == (deployed, deployed, deployed)


def test_status_is_honest_when_moto_dies(state_root: Path, deployed: str) -> None:
    """The app still answers /health, but the stack's AWS is gone: status must not say OK."""
    healthy = cli("sandbox", "status", state_root=state_root)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    state = json.loads((state_root / STACK / "sandbox.json").read_text())
    os.killpg(state["moto"]["process"]["pid"], signal.SIGKILL)
    time.sleep(0.5)
    broken = cli("sandbox", "status", state_root=state_root)
    assert broken.returncode == 1
    assert "moto: NOT RUNNING" in broken.stdout and "problem: moto is not running" in broken.stdout
    assert "/health?deep=1 fails" in broken.stdout  # the app's deep health sees it too


def test_history_outlives_down_and_continues(state_root: Path, deployed: str) -> None:
    if not records(state_root):  # the interrupted runs of the other tests, if they ran first
        run = cli("automation", "up", "--json", state_root=state_root)
        assert run.returncode == 0, run.stderr[-2000:]
    before = cli("automation", "history", "--json", state_root=state_root)
    assert before.returncode == 0, before.stderr[-2000:]
    recorded = json.loads(before.stdout)["deployments"]
    assert recorded
    sandbox_before = json.loads(cli("sandbox", "history", state_root=state_root).stdout)
    down = cli("sandbox", "down", state_root=state_root)
    assert down.returncode == 0
    after = json.loads(cli("automation", "history", "--json", state_root=state_root).stdout)
    assert [d["id"] for d in after["deployments"]] == [d["id"] for d in recorded]
    assert json.loads(cli("sandbox", "history", state_root=state_root).stdout) == sandbox_before
    up = cli("sandbox", "up", state_root=state_root)
    assert up.returncode == 0, up.stderr[-2000:]
    continued = json.loads(cli("sandbox", "history", state_root=state_root).stdout)
    assert continued[0]["version"] == sandbox_before[0]["version"] + 1
    assert continued[1:] == sandbox_before
