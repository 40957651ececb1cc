"""What a SIGKILLed run leaves behind is found and cleaned by the next command, which says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from automation.records import DeploymentRecord, FileRecordStore, reap_stale
from automation.wiring import clean_orphan_checks
from common import pids
from sandbox import processes
from sandbox.state import write_json_atomic


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603
    proc.wait()
    return proc.pid


def test_in_progress_records_of_dead_runs_become_interrupted(tmp_path: Path) -> None:
    store = FileRecordStore(tmp_path / "records.json")
    orphan = DeploymentRecord(stack="dev", app_version="v-1", engine="sandbox", pid=dead_pid())
    mine = DeploymentRecord(stack="dev", app_version="v-2", engine="sandbox")  # this process
    done = DeploymentRecord(
        stack="dev", app_version="v-0", engine="sandbox", status="verified", pid=dead_pid()
    )
    for record in (orphan, mine, done):
        store.save(record)
    (reaped,) = reap_stale(store)
    assert reaped.id == orphan.id
    by_id = {r.id: r for r in store.list()}
    assert by_id[orphan.id].status == "interrupted" and "is gone" in by_id[orphan.id].message
    assert by_id[mine.id].status == "in_progress" and by_id[done.id].status == "verified"
    assert reap_stale(store) == []  # idempotent


def test_check_sandboxes_of_dead_runs_are_stopped_and_removed(tmp_path: Path) -> None:
    folder = tmp_path / ".check" / "123-abcdef"
    stack = folder / "dev"
    rec, _ = processes.spawn(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        log=stack / "logs" / "moto.log",
    )
    write_json_atomic(stack / "sandbox.json", {"stack": "dev", "moto": {"process": rec.to_dict()}})
    write_json_atomic(
        folder / "owner.json", {"pid": dead_pid(), "start_time": 1, "command": "x", "log": ""}
    )
    alive_owner = tmp_path / ".check" / "456-live"
    alive_owner.mkdir(parents=True)
    me = processes.ProcessRecord(os.getpid(), pids.start_time(os.getpid()) or 0, "", "")
    write_json_atomic(alive_owner / "owner.json", me.to_dict())
    try:
        (line,) = clean_orphan_checks(tmp_path)
        assert f"stopped moto pid {rec.pid}" in line and "killed run" in line
        assert not processes.is_alive(rec) and not folder.exists()
        assert alive_owner.exists()  # a running run's sandbox is left alone
    finally:
        processes.stop(rec)
