"""A deployment whose verification waits on a manual step is not rolled back (issue 10 item 4)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from automation.pipeline import ExitCode, Pipeline, VerifyOutcome
from automation.records import FileRecordStore
from common.changes import ChangeSummary


class Engine:
    name, stack = "stub", "staging"

    def __init__(self) -> None:
        self.ups: list[Path | None] = []

    def preview(self, bundle: Path | None = None) -> ChangeSummary:
        return ChangeSummary(self.stack)

    def up(self, bundle: Path | None = None) -> dict[str, Any]:
        self.ups.append(bundle)
        return {"app_version": bundle.stem if bundle else None, "api_url": "http://x"}

    def outputs(self) -> dict[str, Any]:
        return {}

    def refresh(self) -> None: ...
    def history(self) -> list[dict[str, Any]]:
        return []

    def destroy(self) -> None: ...


def stub_pipeline(
    engine: Engine, tmp_path: Path, bundle: Path, store: FileRecordStore, outcome: VerifyOutcome
) -> Pipeline:
    """A pipeline over a stub engine: this bundle, these records, every verify → `outcome`."""
    pipeline = Pipeline(
        engine,
        verifier=lambda outputs, report_dir: outcome,
        checks=lambda: [],
        bundle_builder=lambda: bundle,
        bundle_fetcher=lambda outputs, label: bundle,
        record_store=lambda outputs: store,
        report_root=tmp_path,
        project_dir=tmp_path,
        stream=io.StringIO(),
    )
    pipeline._report_run = lambda *a: None  # type: ignore[method-assign]  # no AWS here
    return pipeline


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
