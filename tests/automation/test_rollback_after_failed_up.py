"""A failed `up` on the real path, then the automatic rollback (issue 21, item 4).

The edge is the recording stand-in `pulumi` (tests/support/stand_in_pulumi.py) emulating what
the CLI and Elastic Beanstalk do with the program's application version: a failed update leaves
the replaced version in the state marked `"delete": true`, and EB refuses a label it already
holds. The pipeline, the PulumiEngine and the Automation API run for real; verify answers by
the version served (it is not what is under test here).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from app.bundle import bundle_label
from automation.pipeline import ExitCode, Pipeline, VerifyOutcome
from automation.pulumi_engine import PulumiEngine
from automation.records import DeploymentRecord, FileRecordStore, RecordStatus
from common.contracts import VERSION_EXISTS_ENV
from common.paths import ROOT
from tests.support.stand_in_pulumi import calls, eb_versions, emulate_versions, install_stand_in


def _bundle(folder: Path, text: str) -> Path:
    path = folder / f"{text}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("application.py", f"# {text}\napp = None\n")
    return path


def test_a_failed_up_rolls_back_to_the_label_eb_holds_and_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, bad = _bundle(tmp_path, "good"), _bundle(tmp_path, "bad")
    labels = {bundle_label(good): good, bundle_label(bad): bad}
    stand_in = tmp_path / "stand-in"
    for key, value in install_stand_in(stand_in, stacks=["staging"]).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "stand-in")
    outputs = {"stack": "staging", "api_url": "https://api.example.com", "region": "us-east-1"}
    emulate_versions(
        stand_in, "staging", outputs, deployed=bundle_label(good), fail_labels=[bundle_label(bad)]
    )
    store = FileRecordStore(tmp_path / "records.json")
    store.save(
        DeploymentRecord(
            stack="staging",
            app_version=bundle_label(good),
            engine="pulumi",
            status=RecordStatus.VERIFIED,
        )
    )
    engine = PulumiEngine(
        "staging",
        project_dir=ROOT,
        backup_dir=tmp_path / "backups",
        on_output=lambda _: None,
        # DescribeApplicationVersions, answered by the emulated EB
        version_lookup=lambda bundle: bundle_label(bundle) in eb_versions(stand_in, "staging"),
        platform_lookup=lambda: None,  # the environment runs the pin
    )

    def verifier(served: dict[str, Any], report_dir: Path) -> VerifyOutcome:
        ok = served.get("app_version") == bundle_label(good)
        return VerifyOutcome(passed=ok, summary={"passed": ok}, report_dir=report_dir)

    pipeline = Pipeline(
        engine,
        verifier=verifier,
        checks=lambda: [],
        bundle_builder=lambda: bad,
        bundle_fetcher=lambda _outputs, label: labels[label],
        record_store=lambda _outputs: store,
        report_root=tmp_path / "reports",
        project_dir=tmp_path,
        stream=io.StringIO(),
        retry_attempts=1,
    )
    pipeline._report_run = lambda *a: None  # type: ignore[method-assign]  # no AWS here

    result = pipeline.run()

    assert result.exit_code == ExitCode.ROLLED_BACK, result.message
    assert result.rollback_version == bundle_label(good)
    ups = [
        c for c in calls(stand_in) if [a for a in c["argv"] if not a.startswith("-")][:1] == ["up"]
    ]
    assert len(ups) == 2, [c["argv"][:3] for c in ups]
    assert VERSION_EXISTS_ENV not in ups[0]["env"]  # the new label: declared, created
    assert ups[1]["env"][VERSION_EXISTS_ENV] == "true"  # the old one, pending delete: referenced
