"""`up` on its own is a recorded deployment (`deployed`), and a full verify can vouch for it.

The README walk found `rollback --to <a version deployed by up>` refused as "unknown version":
`up` left no record. A `deployed` record is listed and can be named, but only a passing full
verify (`automation verify` without --only) makes it a version an automatic rollback returns to.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from app.bundle import bundle_label
from automation.pipeline import Pipeline, VerifyOutcome
from automation.records import FileRecordStore, last_verified
from tests.support.stub_pipeline import Engine, stub_pipeline


def _pipeline(tmp_path: Path, bundle: Path, store: FileRecordStore) -> Pipeline:
    return stub_pipeline(Engine(), tmp_path, bundle, store, VerifyOutcome(True, {"passed": True}))


def _bundle(tmp_path: Path, name: str) -> Path:
    bundle = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("application.py", name)
    return bundle


def test_up_records_a_deployed_version_that_is_not_a_rollback_target(tmp_path: Path) -> None:
    store = FileRecordStore(tmp_path / "records.json")
    bundle = _bundle(tmp_path, "v-one")
    result = _pipeline(tmp_path, bundle, store).deploy()
    (record,) = store.list()
    assert record.status == "deployed" and record.id == result.deployment_id
    assert record.app_version == bundle_label(bundle)  # the label, from the bundle's bytes
    assert last_verified(store.list()) is None  # never picked by an automatic rollback


def test_a_full_passing_verify_vouches_for_the_newest_deployed_version(tmp_path: Path) -> None:
    store = FileRecordStore(tmp_path / "records.json")
    pipeline = _pipeline(tmp_path, _bundle(tmp_path, "v-one"), store)
    pipeline.deploy()
    (record,) = store.list()
    outputs = {"app_version": record.app_version}
    failing = VerifyOutcome(False, {"passed": False})
    assert pipeline.promote(outputs, failing) is None and store.list()[0].status == "deployed"
    other = {"app_version": "v-something-else"}  # not what the record deployed
    assert pipeline.promote(other, VerifyOutcome(True, {"passed": True})) is None
    assert pipeline.promote(outputs, VerifyOutcome(True, {"passed": True})) == record.id
    (promoted,) = store.list()
    assert promoted.status == "verified" and promoted.verify_summary == {"passed": True}
    assert last_verified(store.list()) == record.app_version
