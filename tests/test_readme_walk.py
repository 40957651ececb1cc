"""Walk the README: every documented `python -m automation|sandbox|verify` line, run as written.

In a fresh copy of the repository (the committed files as they are in this working tree, the
model files `make setup` fetches, the set-up `.venv`), each line of the README's bash blocks
runs as a user would type it, in the order a user would follow: the sandbox dev stack, the
load test on a prod-like sandbox, then the real path (`--engine pulumi`) with the recording
stand-in `pulumi` on PATH. Its `up` "deploys" to one of the live sandbox stacks (staging to
dev, prod to prod), so `run`, `verify` and `rollback` verify something real, with the caller's
credentials pointing at that stack's moto, as ambient AWS credentials point at an account.

Each step asserts the outcome the README promises (exit code, what is printed, files written).
Placeholders in the README (`v-0123456789ab`) are replaced by the label the walk deployed. A
README line without a step here fails `test_every_readme_line_is_walked`, so the README cannot
grow a command nobody ran. The prod load plan is shortened in the copy's Pulumi.prod.yaml (the
full plan runs in benchmarks and `--only load` by hand).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.automation.stand_in_pulumi import calls, deploy_to, install_stand_in
from tests.test_readme_commands import COMMANDS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = "v-0123456789ab"
#: The caller's own credentials (a profile or OIDC would put these in the environment); moto
#: takes any. The sandbox's are FAKE_AWS_ENV: none of those, nor a check-stage sandbox's
#: endpoint, may reach the `pulumi` CLI.
CALLER_AWS = {
    "AWS_ACCESS_KEY_ID": "AKIAWALKCALLER000001",  # pragma: allowlist secret
    "AWS_SECRET_ACCESS_KEY": "walk-caller-secret-not-real",  # pragma: allowlist secret
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class Walk:
    """The copy of the repository and what the walk learnt on its way."""

    root: Path
    stand_in: Path
    stand_in_env: dict[str, str]
    label: str = ""
    results: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)

    def stack_env(self, stack: str) -> dict[str, str]:
        """Ambient AWS for the real path: the sandbox stack the stand-in deploys to."""
        state = json.loads((self.root / ".sandbox" / stack / "sandbox.json").read_text())
        return {**CALLER_AWS, "AWS_ENDPOINT_URL": state["aws_endpoint_url"]}

    def last_run(self, stack: str) -> dict:
        """The newest run's run.json (every command writes reports/<stack>/<run>/)."""
        runs = sorted((self.root / "reports" / stack).glob("2*/run.json"))
        return json.loads(runs[-1].read_text())

    def pulumi_calls(self, *words: str) -> list[dict]:
        """Recorded stand-in calls whose command words start with `words`."""
        found = []
        for call in calls(self.stand_in):
            command = [a for a in call["argv"] if not a.startswith("-")]
            if command[: len(words)] == list(words):
                found.append(call)
        return found

    def read(self, relative: str) -> str:
        return (self.root / relative).read_text(encoding="utf-8")


@dataclass
class Step:
    line: str
    #: "sandbox" (no AWS, no pulumi), or the sandbox stack the real path's AWS points at.
    target: str = "sandbox"
    exit_code: int = 0
    #: Substrings of stdout+stderr the README promises.
    says: tuple[str, ...] = ()
    then: Callable[[Walk, subprocess.CompletedProcess], None] | None = None


def _run_verified(walk: Walk, result: subprocess.CompletedProcess) -> None:
    """`run`: every stage, a verified version, the run folder and the index written."""
    stack = result.args[result.args.index("--stack") + 1]
    summary = walk.last_run(stack)
    assert summary["status"] == "succeeded" and summary["command"] == "run", summary["message"]
    assert [s["stage"] for s in summary["stages"]] == ["check", "preview", "up", "verify"]
    assert summary["verify"]["passed"] is True
    walk.label = summary["app_version"]
    run_dir = Path(summary["run_dir"])
    assert (run_dir / "pipeline.jsonl").is_file() and (run_dir / "verify" / "report.html").is_file()
    assert (walk.root / "reports" / stack / "index.html").is_file()
    assert f"{stack}: succeeded" in result.stdout


def _history_table(walk: Walk, result: subprocess.CompletedProcess) -> None:
    assert walk.label in result.stdout and "verified" in result.stdout


def _dev_outputs(walk: Walk, result: subprocess.CompletedProcess) -> None:
    outputs = json.loads(walk.read(".sandbox/dev/outputs.json"))
    assert outputs["api_url"] in result.stdout and outputs["app_version"] == walk.label
    assert walk.label in result.stdout


def _status_healthy(walk: Walk, result: subprocess.CompletedProcess) -> None:
    for part in ("moto", "proxy", "health"):
        assert part in result.stdout, result.stdout


def _preview_json(walk: Walk, result: subprocess.CompletedProcess) -> None:
    summary = json.loads(result.stdout)
    assert summary["stack"] == "dev" and summary["resources"]
    ops = {r["name"]: r["op"] for r in summary["resources"]}
    assert set(ops.values()) == {"same"}, ops  # nothing changed since `up`
    assert all(r["component"] for r in summary["resources"] if r["type"].startswith("aws:"))


def _manual_report(walk: Walk, result: subprocess.CompletedProcess) -> None:
    report = json.loads(walk.read("reports/dev/manual/verify.json"))
    assert report["passed"] is True, report["totals"]
    assert (walk.root / "reports/dev/manual/report.html").is_file()


def _load_report(walk: Walk, result: subprocess.CompletedProcess) -> None:
    report = json.loads(walk.read("reports/prod/verify.json"))
    (load,) = [c for c in report["checks"] if c["name"] == "load"]
    assert load["status"] == "PASSED", load
    assert (walk.root / "reports/prod/load/locust.html").is_file()


def _callers_credentials_only(walk: Walk) -> None:
    """The CLI saw the caller's AWS settings, never the sandbox's or the check stage's."""
    for call in calls(walk.stand_in):
        seen = call["env"]
        assert "AWS_SESSION_TOKEN" not in seen, call["argv"]
        for key, value in CALLER_AWS.items():
            assert seen.get(key) == value, (call["argv"], key, seen.get(key))
        assert seen.get("AWS_ENDPOINT_URL") in (
            walk.stack_env("dev")["AWS_ENDPOINT_URL"],
            walk.stack_env("prod")["AWS_ENDPOINT_URL"],
        ), (call["argv"], seen.get("AWS_ENDPOINT_URL"))


def _stack_created_with_kms(walk: Walk, result: subprocess.CompletedProcess) -> None:
    (init,) = walk.pulumi_calls("stack", "init", "staging")
    assert init["argv"][-2:] == ["--secrets-provider", "awskms://alias/pulumi?region=us-east-1"]
    previews = walk.pulumi_calls("preview")
    assert previews and "--policy-pack" in previews[-1]["argv"]
    assert not walk.pulumi_calls("up")  # a preview changes nothing


def _markdown_written(walk: Walk, result: subprocess.CompletedProcess) -> None:
    text = walk.read("preview.md")
    assert text.startswith("<!-- passport-preview:staging -->"), text[:200]


def _staging_deployed(walk: Walk, result: subprocess.CompletedProcess) -> None:
    _run_verified(walk, result)
    up = walk.pulumi_calls("up")[-1]
    assert "--policy-pack" in up["argv"] and up["argv"][-2:] == ["--stack", "staging"]
    assert up["env"]["PASSPORT_APP_BUNDLE"].endswith(f"{walk.label}.zip")
    _callers_credentials_only(walk)


def _override_persisted(walk: Walk, result: subprocess.CompletedProcess) -> None:
    set_all = walk.pulumi_calls("config", "set-all")
    assert set_all and {c["argv"][-1] for c in set_all} == {"passport-photo-backend:maxInstances=4"}
    assert walk.pulumi_calls("up")[-1]["env"]["PASSPORT_APP_BUNDLE"].endswith(f"{walk.label}.zip")


def _prod_verified(walk: Walk, result: subprocess.CompletedProcess) -> None:
    report = json.loads(walk.read("reports/prod/verify.json"))
    assert report["passed"] is True, report["totals"]
    assert report["outputs"]["app_version"] == walk.label


def _rolled_back(walk: Walk, result: subprocess.CompletedProcess) -> None:
    summary = walk.last_run("prod")
    assert summary["rollback_version"] == walk.label and summary["status"] == "succeeded", summary
    up = walk.pulumi_calls("up")[-1]
    assert up["argv"][-2:] == ["--stack", "prod"]
    # the exact earlier artifact, fetched from the artifact bucket (bundles/<label>.zip); whether
    # EB holds the label is asked of EB, which moto does not play (tests/automation/ does that)
    assert walk.label in Path(up["env"]["PASSPORT_APP_BUNDLE"]).name
    _callers_credentials_only(walk)


def _destroy_refused(walk: Walk, result: subprocess.CompletedProcess) -> None:
    assert walk.pulumi_calls("destroy")  # it got as far as the CLI, which refused
    kept = json.loads(walk.read("build/deployment-records/prod.json"))
    assert kept  # the records were exported before the CLI was asked


def _sandbox_gone(walk: Walk, result: subprocess.CompletedProcess) -> None:
    assert not (walk.root / ".sandbox" / "dev").exists()
    assert json.loads(walk.read(".sandbox/.records/dev.json"))  # the audit trail outlives it


#: In the order a user follows the README; every README line appears exactly once.
STEPS = [
    # The pipeline on the sandbox (README: "The pipeline").
    Step("python -m automation run      --stack dev --engine sandbox", then=_run_verified),
    Step("python -m automation check    --stack staging", says=("check staging: succeeded",)),
    Step("python -m automation up       --stack dev", says=("up dev: succeeded",)),
    Step(
        "python -m automation verify   --stack dev --only health,ml",
        says=("verify dev: succeeded",),
    ),
    Step("python -m automation history  --stack dev", then=_history_table),
    Step("python -m automation outputs  --stack dev", then=_dev_outputs),
    # The sandbox itself.
    Step("python -m sandbox up      --stack dev", says=("stack 'dev' is up in the sandbox",)),
    Step(
        f"python -m sandbox up      --stack dev --bundle build/bundles/{PLACEHOLDER}.zip",
        says=("stack 'dev' is up in the sandbox",),
    ),
    Step("python -m sandbox status  --stack dev", then=_status_healthy),
    Step("python -m sandbox outputs --stack dev", then=_dev_outputs),
    Step("python -m sandbox preview --stack dev --json", then=_preview_json),
    Step("python -m sandbox history --stack dev", says=("succeeded", "update")),
    # Verification.
    Step(
        "python -m verify --stack dev --engine sandbox --only health,ml "
        "--report-dir reports/dev/manual",
        then=_manual_report,
    ),
    Step(
        "python -m verify --outputs .sandbox/dev/outputs.json --report-dir reports/dev/manual",
        then=_manual_report,
    ),
    # Load testing, on a prod-like fleet.
    Step("python -m sandbox up --stack prod", says=("stack 'prod' is up in the sandbox",)),
    Step("python -m verify --stack prod --engine sandbox --only load", then=_load_report),
    # Deploying to AWS: the real path, against the stand-in `pulumi` (staging → the dev sandbox).
    Step(
        "python -m automation check   --stack staging --engine pulumi",
        target="dev",
        says=("check staging: succeeded",),
    ),
    Step(
        "python -m automation preview --stack staging --engine pulumi "
        "--secrets-provider awskms://alias/pulumi?region=us-east-1",
        target="dev",
        then=_stack_created_with_kms,
    ),
    Step(
        "python -m automation run     --stack staging --engine pulumi",
        target="dev",
        then=_staging_deployed,
    ),
    Step(
        "python -m automation preview  --stack staging --engine pulumi --markdown preview.md",
        target="dev",
        then=_markdown_written,
    ),
    Step(
        "python -m automation up       --stack staging --engine pulumi --config maxInstances=4",
        target="dev",
        says=("persisted in Pulumi.staging.yaml",),
        then=_override_persisted,
    ),
    # prod (→ the prod sandbox), deployed before by `up` (the setup step below).
    Step(
        "python -m verify --stack prod --engine pulumi --concurrency 4 --timeout 600",
        target="prod",
        then=_prod_verified,
    ),
    Step(
        f"python -m automation rollback --stack prod --engine pulumi --to {PLACEHOLDER}",
        target="prod",
        then=_rolled_back,
    ),
    Step(
        "python -m automation destroy  --stack prod --engine pulumi --confirm prod",
        target="prod",
        exit_code=1,
        says=("protected resources", "deletionProtection: false in Pulumi.prod.yaml"),
        then=_destroy_refused,
    ),
    Step("python -m sandbox down    --stack dev", then=_sandbox_gone),
]


def _normal(line: str) -> str:
    return " ".join(shlex.split(line))


def test_every_readme_line_is_walked() -> None:
    walked = sorted(_normal(s.line) for s in STEPS)
    assert walked == sorted(_normal(line) for line in COMMANDS)


def _copy_repository(dest: Path) -> None:
    """What `git clone` + `make setup` leave: tracked files, the model files, `.venv`."""
    listed = subprocess.run(  # noqa: S603 - git, our own repository
        ["git", "ls-files", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,  # noqa: S607
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    (dest / "app" / "models").mkdir(parents=True, exist_ok=True)
    for model in (ROOT / "app" / "models").glob("*.*"):
        if model.suffix in (".onnx", ".tflite"):
            shutil.copy2(model, dest / "app" / "models" / model.name)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    # A short load plan (the README's "~70 s with the prod plan" is the committed one).
    prod = dest / "Pulumi.prod.yaml"
    config = yaml.safe_load(prod.read_text())
    config["config"]["passport-photo-backend:loadTest"]["durationS"] = 30  # the least allowed
    prod.write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    root = tmp_path_factory.mktemp("fresh-clone")
    _copy_repository(root)
    stand_in = tmp_path_factory.mktemp("stand-in-pulumi")
    walk = Walk(root=root, stand_in=stand_in, stand_in_env=install_stand_in(stand_in))
    deploy_to(stand_in, "staging", root / ".sandbox" / "dev" / "outputs.json")
    deploy_to(stand_in, "prod", root / ".sandbox" / "prod" / "outputs.json")
    yield walk
    for stack in ("dev", "prod"):
        if (root / ".sandbox" / stack).exists():
            subprocess.run(  # noqa: S603 - our own CLI
                [str(root / ".venv/bin/python"), "-m", "sandbox", "down", "--stack", stack],
                cwd=root,
                capture_output=True,
                timeout=300,
                check=False,
            )


def _env(walk: Walk, step: Step) -> dict[str, str]:
    """A user's shell: no AWS/Pulumi settings of this test session; the venv first on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "PULUMI_", "GITHUB_", "STAND_IN_")) and k != "CI"
    }
    env["PATH"] = f"{walk.root / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    if step.target != "sandbox":
        env.update({k: v for k, v in walk.stand_in_env.items() if k.startswith("STAND_IN_")})
        env["PATH"] = f"{walk.stand_in / 'bin'}{os.pathsep}{env['PATH']}"
        env.update(walk.stack_env(step.target))
    return env


def _run(walk: Walk, line: str, step: Step) -> subprocess.CompletedProcess:
    words = shlex.split(line.replace(PLACEHOLDER, walk.label or PLACEHOLDER))
    assert words[0] == "python"
    return subprocess.run(  # noqa: S603 - the README's own commands
        [str(walk.root / ".venv" / "bin" / "python"), *words[1:]],
        cwd=walk.root,
        env=_env(walk, step),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.parametrize("step", STEPS, ids=lambda s: _normal(s.line)[10:70])
def test_readme_line_runs_as_documented(walk: Walk, step: Step) -> None:
    if step.line.startswith("python -m verify --stack prod --engine pulumi"):
        # prod was deployed before this line: the walk's one step that is not a README line.
        setup = Step("python -m automation up --stack prod --engine pulumi", target="prod")
        done = _run(walk, setup.line, setup)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    result = _run(walk, step.line, step)
    walk.results[step.line] = result
    said = result.stdout + result.stderr
    assert result.returncode == step.exit_code, (
        f"{step.line}: exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    assert "Traceback" not in said, said[-5000:]
    for text in step.says:
        assert text in said, f"{step.line}: {text!r} not in\n{said[-4000:]}"
    if step.then is not None:
        step.then(walk, result)


def test_a_walk_step_fails_when_the_line_does_not_do_what_it_says(walk: Walk) -> None:
    """The walk's assertions bite: a line whose exit code or output differs is caught."""
    wrong = Step("python -m sandbox status  --stack nope", says=("health",))
    result = _run(walk, wrong.line, wrong)
    assert result.returncode == 2 and "unknown stack 'nope'" in result.stderr
    assert re.search(r"available: .*dev", result.stderr)
