"""Clear failures: exit 2 with one line, no traceback, and nothing left running.

Unknown stack, port in use, moto not installed, model missing, invalid stack config, and a
resource type the sandbox cannot realise (declared by a throwaway program through the real
engine and Mocks).
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import boto3
import pytest

import app.models
from common.contracts import SANDBOX_AWS_ENV
from common.paths import ROOT
from sandbox import cli, processes
from sandbox.engine import SandboxEngine
from sandbox.errors import SandboxError
from sandbox.realise.context import RealiseContext
from sandbox.realise.route53 import record
from sandbox.state import read_json


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    err = capsys.readouterr().err
    return code, err


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if not line.startswith("sandbox[")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("error: ")
    return lines[0]


def no_processes_left(state_dir: Path) -> None:
    """Every process the sandbox recorded for this stack is gone."""
    data = read_json(state_dir / "sandbox.json", default={}) or {}
    for key in ("moto", "proxy", "app"):
        assert key not in data, f"{key} still recorded after a failed first up"
    for rec in data.get("starting", []):
        assert not processes.is_alive(processes.ProcessRecord.from_dict(rec))


def test_unknown_stack(capsys, tmp_path: Path) -> None:
    code, err = run_cli(capsys, "up", "--stack", "qa", "--state-root", str(tmp_path))
    assert code == 2
    line = one_line_error(err)
    assert "unknown stack 'qa'" in line and "dev, prod, staging" in line


def test_port_in_use(capsys, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, err = run_cli(
            capsys, "up", "--stack", "dev", "--moto-port", str(port), "--state-root", str(tmp_path)
        )
    assert code == 2
    line = one_line_error(err)
    assert f"port {port}" in line and "already in use" in line
    no_processes_left(tmp_path / "dev")


def test_moto_not_installed(capsys, monkeypatch, tmp_path: Path) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "moto" else real(name, *a)
    )
    code, err = run_cli(capsys, "up", "--stack", "dev", "--state-root", str(tmp_path))
    assert code == 2
    assert "moto[server] is not installed" in one_line_error(err)


def test_model_missing(capsys, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(app.models, "MODELS_DIR", tmp_path / "no-models")
    code, err = run_cli(capsys, "up", "--stack", "dev", "--state-root", str(tmp_path))
    assert code == 2
    line = one_line_error(err)
    assert "model u2netp missing" in line and "make models" in line
    assert not (tmp_path / "dev" / "sandbox.json").exists()  # failed before starting anything


def _project_copy(tmp_path: Path, stack_yaml: str, main: str | None = None) -> Path:
    """A project dir sharing the real program's code, with its own stack file/program."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    for name in ("components", "app"):
        (project / name).symlink_to(ROOT / name)
    if main is None:
        shutil.copy2(ROOT / "__main__.py", project / "__main__.py")
    else:
        (project / "__main__.py").write_text(main)
    (project / "Pulumi.dev.yaml").write_text(stack_yaml)
    return project


def test_invalid_stack_config(capsys, tmp_path: Path) -> None:
    bad = (
        (ROOT / "Pulumi.dev.yaml")
        .read_text()
        .replace("maxUploadMb: 10", "maxUploadMb: 500")
        .replace("deploymentPolicy: AllAtOnce", "deploymentPolicy: Sometimes")
    )
    project = _project_copy(tmp_path, bad)
    state = tmp_path / "state"
    code, err = run_cli(
        capsys, "up", "--stack", "dev", "--project-dir", str(project), "--state-root", str(state)
    )
    assert code == 2
    line = one_line_error(err)
    assert "invalid stack config for stack 'dev'" in line
    assert "maxUploadMb" in line and "deploymentPolicy" in line  # every problem, one line
    no_processes_left(state / "dev")


BOGUS_PROGRAM = """
import pulumi
import pulumi_aws as aws

bucket = aws.s3.Bucket("fine")
pulumi.CustomResource("bogus:index:Teleporter", "beam-me-up", {"to": bucket.bucket})
pulumi.export("bucket", bucket.bucket)
"""


def test_unknown_resource_type_fails_loudly(tmp_path: Path) -> None:
    # The real dev config: config is validated (before anything starts) for every program.
    project = _project_copy(tmp_path, (ROOT / "Pulumi.dev.yaml").read_text(), main=BOGUS_PROGRAM)
    engine = SandboxEngine("dev", project_dir=project, state_root=tmp_path / "state")
    try:
        with pytest.raises(SandboxError) as err:
            engine.up()
        assert "bogus:index:Teleporter" in str(err.value)
        assert "beam-me-up" in str(err.value)
        assert not engine.paths.outputs.exists()
        (failed,) = engine.history()
        assert failed["result"] == "failed" and "bogus:index:Teleporter" in failed["message"]
        no_processes_left(engine.paths.dir)
        # preview refuses it too, without starting anything
        with pytest.raises(SandboxError, match="bogus:index:Teleporter"):
            engine.preview()
    finally:
        engine.destroy()


def test_dkim_records_need_the_users_hosted_zone(clean_moto: str) -> None:
    """Route 53 records go into a zone that must exist (the user's), as in AWS."""
    ctx = RealiseContext("dev", "p", "us-east-1", clean_moto, SANDBOX_AWS_ENV)
    inputs = {
        "zoneId": "ZNOSUCHZONE1",
        "name": "abc._domainkey.example.com",
        "type": "CNAME",
        "ttl": 1800,
        "records": ["abc.dkim.amazonses.com"],
    }
    with pytest.raises(Exception, match="NoSuchHostedZone"):
        record(ctx, "dkim-0", inputs)
    zone = boto3.client("route53").create_hosted_zone(Name="example.com", CallerReference="t")
    zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    record(ctx, "dkim-0", {**inputs, "zoneId": zone_id})
    sets = boto3.client("route53").list_resource_record_sets(HostedZoneId=zone_id)
    cname = [s for s in sets["ResourceRecordSets"] if s["Type"] == "CNAME"]
    assert cname[0]["ResourceRecords"] == [{"Value": "abc.dkim.amazonses.com"}]


def test_a_program_run_leaves_no_event_loop_to_the_garbage_collector(tmp_path: Path) -> None:
    """Loops the mock monitor's worker threads used were left open; finalised at interpreter
    exit, one could print "Exception ignored … Invalid file descriptor: -1" after a command
    that promises no traceback (seen on `sandbox preview --json` in the README walk)."""
    import gc
    import warnings

    gc.collect()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ResourceWarning)
        SandboxEngine("dev", state_root=tmp_path).preview()
        gc.collect()
    assert not [w for w in seen if "unclosed event loop" in str(w.message)]
