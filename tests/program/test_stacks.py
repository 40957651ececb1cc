"""Each committed stack file, through the real __main__.py where possible, under mocks."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime.settings import get_root_resource

from common.contracts import BUNDLE_ENV, LIVE_PLATFORM_ENV, ResourceType
from common.paths import ROOT
from components.backend import STACK_OUTPUTS
from components.bundle_source import BundleSourceError
from components.config import PROJECT, StackConfigError
from tests.support.graph_checks import (
    invalid_names,
    missing_outputs,
    public_access_problems,
    untagged,
)
from tests.support.program_graph import FakeBundle, Graph, run_mocked
from tests.support.recording_mocks import RecordingMocks
from tests.support.stack_files import stack_file_config

MAIN = ROOT / "__main__.py"

REQUIRED_TYPES = {
    "aws:dynamodb/table:Table": 2,
    "aws:s3/bucket:Bucket": 2,
    "aws:elasticbeanstalk/application:Application": 1,
    "aws:elasticbeanstalk/applicationVersion:ApplicationVersion": 1,
    "aws:elasticbeanstalk/environment:Environment": 1,
    "aws:ses/emailIdentity:EmailIdentity": 1,
    "aws:ses/configurationSet:ConfigurationSet": 1,
    "aws:sns/topic:Topic": 1,
    "aws:cloudwatch/metricAlarm:MetricAlarm": 8,
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": 1,
}


def test_stack_declares_every_required_resource(stack_graph: Graph) -> None:
    waf = 1 if stack_graph.of_type("aws:wafv2/webAcl:WebAcl") else 0  # staging/prod only
    expected = {**REQUIRED_TYPES, "aws:cloudwatch/metricAlarm:MetricAlarm": 8 + waf}
    expected["aws:wafv2/webAclAssociation:WebAclAssociation"] = waf
    for typ, count in expected.items():
        assert len(stack_graph.of_type(typ)) == count, typ


def test_stack_outputs_complete_and_consistent(stack_graph: Graph) -> None:
    out = stack_graph.outputs
    assert missing_outputs(stack_graph) == []
    assert list(out) == list(STACK_OUTPUTS)
    stack = out["stack"]
    assert out["region"] == "us-east-1"
    assert (
        out["api_url"]
        == f"http://{stack_graph.one('aws:elasticbeanstalk/environment:Environment').state['cname']}"
    )
    assert out["environment_name"] == f"passport-{stack}"
    assert out["application_name"] == f"{PROJECT}-{stack}"
    assert out["alarm_topic_arn"].startswith("arn:aws:sns:us-east-1:")
    assert isinstance(out["cors_allowed_origins"], list)
    assert isinstance(out["latency_budget_ms"], int) and isinstance(out["max_upload_mb"], int)


def test_stack_is_tagged_named_private_and_warning_free(stack_graph: Graph) -> None:
    stack = stack_graph.outputs["stack"]
    assert untagged(stack_graph, stack) == []
    assert invalid_names(stack_graph) == []
    assert public_access_problems(stack_graph) == []
    # No deprecated types or properties (the provider logs a warning for each).
    assert stack_graph.engine_warnings == []


def test_extra_tags_are_merged(stack_graphs: dict[str, Graph]) -> None:
    table = stack_graphs["prod"].one("aws:dynamodb/table:Table", "-emails")
    assert table.inputs["tags"] == {
        "project": PROJECT,
        "stack": "prod",
        "managed-by": "pulumi",
        "environment": "prod",
        "owner": "platform-team",
        "cost-center": "passport-photo",
        "data-classification": "personal",
    }


def _urn_type(urn: str) -> str:
    """The resource's own type from a URN (`...::parentType$type::name`)."""
    return urn.split("::")[-2].rsplit("$", 1)[-1]


def test_every_resource_is_parented_to_its_component(stack_graph: Graph) -> None:
    components = [r for r in stack_graph.resources if r.typ.startswith("passport:")]
    waf = ["passport:waf:Waf"] if stack_graph.of_type("aws:wafv2/webAcl:WebAcl") else []
    assert sorted(r.typ for r in components) == [
        "passport:app_environment:AppEnvironment",
        "passport:backend:PassportPhotoBackend",
        "passport:dashboard:Dashboard",
        "passport:datastore:Datastore",
        "passport:mailer:Mailer",
        "passport:monitoring:Monitoring",
        "passport:storage:Storage",
        *waf,
    ]
    for component in components:
        if component.typ != "passport:backend:PassportPhotoBackend":
            parent = _urn_type(component.options["parent"])
            assert parent == "passport:backend:PassportPhotoBackend"
    for resource in stack_graph.custom:
        parent = _urn_type(resource.options["parent"])
        assert parent.startswith("passport:") and parent != "passport:backend:PassportPhotoBackend"


def run_main(
    stack: str,
    config: dict[str, Any],
    env: dict[str, str | None] | None = None,
    mocks: RecordingMocks | None = None,
) -> tuple[RecordingMocks, Any]:
    """runpy the real __main__.py under mocks; return the mocks and the resolved exports."""

    def program() -> Any:
        runpy.run_path(str(MAIN), run_name="__main__")
        exports = dict(get_root_resource().outputs)
        return pulumi.Output.all(**{k: exports[k] for k in STACK_OUTPUTS if k in exports})

    with pytest.MonkeyPatch.context() as patch:
        for key, value in (env or {}).items():
            if value is None:
                patch.delenv(key, raising=False)
            else:
                patch.setenv(key, value)
        return run_mocked(stack, config, program, mocks=mocks)


def test_bad_config_stops_before_any_resource() -> None:
    config = {
        **stack_file_config("dev"),
        f"{PROJECT}:minInstances": 3,
        f"{PROJECT}:maxInstances": 1,
    }
    mocks = RecordingMocks()
    with pytest.raises(StackConfigError) as info:
        run_main("dev", config, mocks=mocks)
    assert info.value.keys == {"minInstances", "maxInstances"}
    assert "minInstances, maxInstances: got minInstances=3, maxInstances=1" in str(info.value)
    assert mocks.resources == [] and mocks.calls == []


def test_missing_prebuilt_bundle_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("app.bundle", reason="app/bundle.py (app issue) not landed yet")
    missing = tmp_path / "nope.zip"
    with pytest.raises(BundleSourceError, match=f"{BUNDLE_ENV}=.*nope.zip: no such file"):
        run_main("dev", stack_file_config("dev"), env={BUNDLE_ENV: str(missing)})


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_main_exports_every_output_with_a_prebuilt_bundle(
    stack: str, fake_bundle: FakeBundle
) -> None:
    bundle_module = pytest.importorskip("app.bundle", reason="app/bundle.py not landed yet")
    mocks, exports = run_main(stack, stack_file_config(stack), env={BUNDLE_ENV: fake_bundle.path})
    assert list(exports) == list(STACK_OUTPUTS)
    assert exports["app_version"] == bundle_module.bundle_label(Path(fake_bundle.path))
    assert exports["app_version"] == fake_bundle.version_label  # the contract's formula
    assert exports["stack"] == stack


def test_main_builds_the_bundle_from_app_when_none_is_given() -> None:
    bundle_module = pytest.importorskip("app.bundle", reason="app/bundle.py not landed yet")
    mocks, exports = run_main("dev", stack_file_config("dev"), env={BUNDLE_ENV: None})
    (obj,) = [r for r in mocks.registered() if r.typ == "aws:s3/bucketObjectv2:BucketObjectv2"]
    built = Path(obj.inputs["source"].path)
    assert built.parent == Path(bundle_module.DEFAULT_OUT)
    assert exports["app_version"] == bundle_module.bundle_label(built) == built.stem
    assert obj.inputs["key"] == f"bundles/{built.stem}.zip"


@pytest.mark.parametrize(
    ("live", "declared"),
    [
        # managed updates moved the environment ahead of the pin: declare what runs
        ("64bit Amazon Linux 2023 v4.7.2 running Python 3.11", "v4.7.2"),
        (None, "v4.6.0"),  # no environment yet: the pin
        ("64bit Amazon Linux 2023 v4.5.0 running Python 3.11", "v4.6.0"),  # the pin moved on
        ("64bit Amazon Linux 2023 v4.9.0 running Python 3.12", "v4.6.0"),  # another branch
    ],
)
def test_the_program_declares_the_platform_managed_updates_moved_to(
    live: str | None, declared: str, fake_bundle: FakeBundle
) -> None:
    """Issue 21 item 3: after a managed update the pin would ask EB to go back (refused once
    the old version is retired); the live platform of the pin's branch is declared instead."""
    config = stack_file_config("staging")  # pins the default, v4.6.0 (Python 3.11)
    mocks, _ = run_main(
        "staging", config, env={BUNDLE_ENV: fake_bundle.path, LIVE_PLATFORM_ENV: live}
    )
    (env,) = [r for r in mocks.registered() if r.typ == ResourceType.EB_ENVIRONMENT]
    assert env.inputs["solutionStackName"] == (
        f"64bit Amazon Linux 2023 {declared} running Python 3.11"
    )
