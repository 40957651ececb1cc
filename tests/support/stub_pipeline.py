"""A pipeline over a stub engine: the pipeline's own decisions (records, exit codes, rollback or
not) tested without a deployment, every verify answering a given outcome.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from automation.pipeline import Pipeline, VerifyOutcome
from automation.records import FileRecordStore
from common.changes import ChangeSummary


class Engine:
    """Deploys nothing: records the bundle of each `up` and answers like an empty stack."""

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
