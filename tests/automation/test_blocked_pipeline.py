"""A deployment whose verification waits on a manual step is not rolled back (issue 10 item 4)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from automation.pipeline import ExitCode, VerifyOutcome
from automation.records import FileRecordStore
from tests.support.stub_pipeline import Engine, stub_pipeline


def test_a_blocked_verification_exits_5_without_rollback(tmp_path: Path) -> None:
    bundle = tmp_path / "v-new.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("application.py", "")
    store = FileRecordStore(tmp_path / "records.json")
    step = "SES domain identity x.com is pending verification: add the DKIM records"
    engine = Engine()
    blocked = VerifyOutcome(
        passed=False,
        blocked=True,
        summary={"passed": False, "failed": {}, "blocked": {"ses": step}},
    )
    result = stub_pipeline(engine, tmp_path, bundle, store, blocked).run()
    assert result.exit_code == ExitCode.BLOCKED == 6 and result.status == "blocked"
    assert step in result.message and "not rolled back" in result.message
    assert engine.ups == [bundle]  # deployed once, no rollback deploy
    (record,) = store.list()
    assert record.status == "blocked"
