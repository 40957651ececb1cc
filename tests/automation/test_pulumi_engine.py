"""PulumiEngine against a fake Automation API stack (the CLI is the edge we cannot reach here).

What is under test is our mapping: which Automation API calls each engine verb makes, with what
arguments, and how the CLI's failures are translated into messages a user can act on.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pulumi import automation as auto
from pulumi.automation import events
from pulumi.automation._cmd import CommandResult

from app.bundle import bundle_label
from automation.errors import (
    CredentialsError,
    PipelineError,
    StackLockedError,
    ToolMissingError,
    TransientError,
    UsageError,
)
from automation.pulumi_engine import VERSION_TYPE, PulumiEngine
from common.contracts import BUNDLE_ENV, VERSION_EXISTS_ENV


def _pre_event(rtype: str, op: events.OpType) -> Any:
    meta = events.StepEventMetadata(op=op, urn=f"urn:{rtype}", type=rtype, provider="")
    return events.EngineEvent(
        sequence=1, timestamp=0, resource_pre_event=events.ResourcePreEvent(metadata=meta)
    )


class FakeStack:
    """Records calls the way a test double should; raises what it is told to."""

    def __init__(self, fail_with: BaseException | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.config: dict[str, Any] = {}
        self.fail_with = fail_with

    def _call(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, kwargs))
        if self.fail_with is not None:
            raise self.fail_with

    def set_all_config(self, config: dict[str, Any]) -> None:
        self.config.update(config)

    def preview(self, **kwargs: Any) -> Any:
        self._call("preview", **kwargs)
        for rtype, op in [
            ("aws:s3/bucket:Bucket", events.OpType.CREATE),
            ("aws:s3/bucket:Bucket", events.OpType.CREATE),
            ("aws:elasticbeanstalk/environment:Environment", events.OpType.UPDATE),
            (
                "aws:elasticbeanstalk/applicationVersion:ApplicationVersion",
                events.OpType.CREATE_REPLACEMENT,
            ),
            ("aws:elasticbeanstalk/applicationVersion:ApplicationVersion", events.OpType.REPLACE),
            (
                "aws:elasticbeanstalk/applicationVersion:ApplicationVersion",
                events.OpType.DELETE_REPLACED,
            ),
            ("pulumi:pulumi:Stack", events.OpType.SAME),
        ]:
            kwargs["on_event"](_pre_event(rtype, op))
        return SimpleNamespace(change_summary={})

    def up(self, **kwargs: Any) -> Any:
        self._call("up", **kwargs)
        return SimpleNamespace(
            outputs={
                "api_url": auto.OutputValue("http://x.elasticbeanstalk.com", False),
                "app_version": auto.OutputValue("v-abc", False),
                "token": auto.OutputValue("s3cr3t", True),
            }
        )

    def outputs(self) -> Any:
        self._call("outputs")
        return {"app_version": auto.OutputValue("v-abc", False)}

    def export_stack(self) -> Any:
        self._call("export_stack")
        return auto.Deployment(version=3, deployment={"resources": []})

    def history(self, **kwargs: Any) -> Any:
        self._call("history", **kwargs)
        return [
            auto.UpdateSummary(
                kind="update",
                start_time=dt.datetime(2026, 11, 1, 10, 0, 0),
                end_time=dt.datetime(2026, 11, 1, 10, 5, 0),
                message="deploy",
                environment={},
                config={},
                result="succeeded",
                version=7,
                resource_changes={"update": 1},
            )
        ]

    def refresh(self, **kwargs: Any) -> None:
        self._call("refresh", **kwargs)

    def destroy(self, **kwargs: Any) -> None:
        self._call("destroy", **kwargs)


def _engine(tmp_path: Path, stack: FakeStack, **kwargs: Any) -> tuple[PulumiEngine, list]:
    selected: list = []

    def factory(name: str, work_dir: str, env: dict[str, str]) -> FakeStack:
        selected.append((name, work_dir, env))
        return stack

    kwargs.setdefault("version_lookup", lambda bundle: False)
    kwargs.setdefault("platform_lookup", lambda: None)  # EB's DescribeEnvironments: the edge
    engine = PulumiEngine(
        "staging",
        backup_dir=tmp_path / "backups",
        stack_factory=factory,
        on_output=lambda _: None,
        **kwargs,
    )
    return engine, selected


def test_up_backs_up_state_first_and_passes_the_bundle(tmp_path: Path) -> None:
    stack = FakeStack()
    engine, selected = _engine(tmp_path, stack, policy_packs=["policy"])
    bundle = tmp_path / "v-abc.zip"
    outputs = engine.up(bundle)
    assert [c[0] for c in stack.calls] == ["export_stack", "up"]
    assert stack.calls[1][1]["policy_packs"] == ["policy"]
    assert selected[0][0] == "staging"
    assert selected[0][2] == {BUNDLE_ENV: str(bundle)}
    backups = list((tmp_path / "backups").glob("*.json"))
    assert len(backups) == 1
    assert json.loads(backups[0].read_text())["version"] == 3
    assert outputs["app_version"] == "v-abc"
    assert outputs["token"] == "[secret]"  # secrets never leave the engine in clear


def test_preview_counts_each_resource_once_per_type(tmp_path: Path) -> None:
    engine, _ = _engine(tmp_path, FakeStack())
    summary = engine.preview()
    by_type = summary.to_dict()["by_type"]
    assert by_type["aws:s3/bucket:Bucket"] == {"create": 2}
    assert by_type["aws:elasticbeanstalk/applicationVersion:ApplicationVersion"] == {"replace": 1}
    assert "pulumi:pulumi:Stack" not in by_type
    assert summary.totals()["create"] == 2 and summary.has_changes
    markdown = summary.to_markdown()
    assert markdown.startswith("<!-- passport-preview:staging -->")
    assert "| `aws:s3/bucket:Bucket` | 0 | 0 | 2 | 0 | 0 |" in markdown


def test_config_overrides_and_secrets_are_set_on_the_stack(tmp_path: Path) -> None:
    stack = FakeStack()
    engine, _ = _engine(
        tmp_path,
        stack,
        config_overrides={"passport-photo-backend:minInstances": "2", "x:token": "t"},
        secret_keys=frozenset({"x:token"}),
    )
    engine.outputs()
    assert stack.config["passport-photo-backend:minInstances"].value == "2"
    assert stack.config["passport-photo-backend:minInstances"].secret is False
    assert stack.config["x:token"].secret is True


def test_history_maps_update_summaries(tmp_path: Path) -> None:
    engine, _ = _engine(tmp_path, FakeStack())
    (entry,) = engine.history()
    assert entry["version"] == 7 and entry["result"] == "succeeded"
    assert entry["start_time"].startswith("2026-11-01T10:00")
    assert entry["resource_changes"] == {"update": 1}


def test_refresh_and_destroy_map_onto_the_stack(tmp_path: Path) -> None:
    stack = FakeStack()
    engine, _ = _engine(tmp_path, stack)
    engine.refresh()
    engine.destroy()
    assert [c[0] for c in stack.calls] == ["refresh", "destroy"]


def _cmd_error(cls: type, stderr: str) -> BaseException:
    return cls(CommandResult(stdout="", stderr=stderr, code=255))


@pytest.mark.parametrize(
    ("exc", "expected_type", "needle"),
    [
        (
            _cmd_error(
                auto.ConcurrentUpdateError,
                "[409] Conflict: Another update is currently in progress.",
            ),
            StackLockedError,  # a TransientError the pipeline waits on, bounded
            "locked by another update",
        ),
        (
            _cmd_error(auto.StackNotFoundError, "no stack named 'staging' found"),
            UsageError,  # a stack that does not exist: exit 2, like every other CLI
            "pulumi stack init",
        ),
        (
            _cmd_error(
                auto.CommandError, "error: NoCredentialProviders: no valid providers in chain"
            ),
            CredentialsError,
            "AWS credentials",
        ),
        (
            _cmd_error(auto.CommandError, "error: ThrottlingException: Rate exceeded"),
            TransientError,
            "throttled",
        ),
        (
            _cmd_error(auto.CommandError, "error: aws:s3/bucket:Bucket media: BucketAlreadyExists"),
            PipelineError,
            "BucketAlreadyExists",
        ),
    ],
)
def test_cli_failures_are_translated(
    tmp_path: Path, exc: BaseException, expected_type: type, needle: str
) -> None:
    engine, _ = _engine(tmp_path, FakeStack(fail_with=exc))
    with pytest.raises(PipelineError) as info:
        engine.up()
    assert type(info.value) is expected_type
    assert needle in str(info.value)


def test_missing_cli_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _: None)
    engine = PulumiEngine("dev", backup_dir=tmp_path)
    with pytest.raises(ToolMissingError, match="Pulumi CLI was not found"):
        engine.outputs()


@pytest.mark.skipif(
    shutil.which("pulumi") is None,
    reason="no pulumi CLI on PATH: the local-backend integration test needs it",
)
def test_preview_on_a_local_file_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_endpoint: str
) -> None:
    """With the CLI installed: a real preview of dev on a file backend, AWS calls sent to moto."""
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test-only")
    engine = PulumiEngine(
        "dev",
        backup_dir=tmp_path / "backups",
        on_output=lambda _: None,
        config_overrides={
            "aws:skipCredentialsValidation": "true",
            "aws:skipRequestingAccountId": "true",
            "aws:skipMetadataApiCheck": "true",
        },
    )
    summary = engine.preview()
    assert summary.totals()["create"] > 10


def test_an_existing_eb_version_is_referenced_not_created_again(tmp_path: Path) -> None:
    """EB refuses a label twice per application: a rollback tells the program it exists."""
    bundle = tmp_path / "v-old.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("application.py", "app = None\n")
    looked_up: list[Path] = []
    engine, selected = _engine(
        tmp_path, FakeStack(), version_lookup=lambda b: looked_up.append(b) or True
    )
    engine.up(bundle)
    assert looked_up == [bundle]
    assert selected[-1][2] == {BUNDLE_ENV: str(bundle), VERSION_EXISTS_ENV: "true"}
    fresh, selected = _engine(tmp_path, FakeStack(), version_lookup=lambda b: False)
    fresh.up(bundle)
    assert selected[-1][2] == {BUNDLE_ENV: str(bundle)}


def test_a_label_the_stack_state_manages_is_declared_again_not_referenced(
    tmp_path: Path,
) -> None:
    """A plain redeploy: EB holds the label because this stack created it. Referencing it would
    drop the version resource from the state (a spurious delete); declaring it is a no-op."""
    import zipfile

    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("application.py", "app = None\n")
    label = bundle_label(bundle)

    class Managed(FakeStack):
        def export_stack(self) -> Any:
            resource = {"type": VERSION_TYPE, "outputs": {"name": label}}
            return auto.Deployment(version=3, deployment={"resources": [resource]})

    engine, selected = _engine(tmp_path, Managed(), version_lookup=lambda b: True)
    engine.up(bundle)
    assert VERSION_EXISTS_ENV not in selected[-1][2]
    rollback, selected = _engine(tmp_path, FakeStack(), version_lookup=lambda b: True)
    rollback.up(bundle)  # EB holds it, the state does not: a rollback references it
    assert selected[-1][2][VERSION_EXISTS_ENV] == "true"


def test_preview_lists_each_resource_with_its_changed_properties(tmp_path: Path) -> None:
    """Like `pulumi preview --diff`: per resource, the action and the properties that change."""
    urn = "urn:pulumi:staging::passport-photo-backend::passport:eb:Environment$"
    meta = events.StepEventMetadata(
        op=events.OpType.UPDATE,
        urn=f"{urn}aws:elasticbeanstalk/environment:Environment::passport-staging",
        type="aws:elasticbeanstalk/environment:Environment",
        provider="",
        diffs=["versionLabel", "settings"],
    )
    event = events.EngineEvent(
        sequence=1, timestamp=0, resource_pre_event=events.ResourcePreEvent(metadata=meta)
    )

    class OneUpdate(FakeStack):
        def preview(self, **kwargs: Any) -> Any:
            kwargs["on_event"](event)

    engine, _ = _engine(tmp_path, OneUpdate())
    (change,) = engine.preview().to_dict()["resources"]
    assert change == {
        "name": "passport-staging",
        "type": "aws:elasticbeanstalk/environment:Environment",
        "op": "update",
        "diffs": ["settings", "versionLabel"],
        "component": "passport:eb:Environment",
    }
    markdown = engine.preview().to_markdown()
    assert "#### passport:eb:Environment" in markdown
    assert "| `~` | update | `passport-staging` |" in markdown and "`versionLabel`" in markdown
