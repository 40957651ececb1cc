"""Walk the README: every documented `python -m automation|sandbox|verify` line, run as written.

In a fresh copy of the repository (the committed files as they are in this working tree, the
model files `make setup` fetches, the set-up `.venv`), each line of the README's bash blocks
runs as a user would type it: the sandbox dev stack, the load test on a prod-like sandbox, then
the real path (`--engine pulumi`) with the recording stand-in `pulumi` on PATH. Its `up`
"deploys" to one of the live sandbox stacks (staging to dev, prod to prod), so `run`, `verify`
and `rollback` verify something real, with the caller's credentials pointing at that stack's
moto, as ambient AWS credentials point at an account.

Each step asserts the outcome the README promises (exit code, what is printed, files written).
Placeholders in the README (`v-0123456789ab`) are replaced by the label the walk deployed. A
README line without a step here fails `test_every_readme_line_is_walked`, so the README cannot
grow a command nobody ran. The prod load plan is shortened in the copy's Pulumi.prod.yaml (the
full plan runs in benchmarks and `--only load` by hand).

Two lanes walk at once, as two operators would: dev + staging (→ the dev sandbox), and prod
(→ the prod sandbox). Each lane runs its lines in order in its own thread with its own stand-in
log; the tests, one per README line, wait for their line and report its outcome.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from common.paths import ROOT
from tests.support.readme_commands import COMMANDS, app_tool_lines
from tests.support.stand_in_pulumi import calls, deploy_to, install_stand_in

PLACEHOLDER = "v-0123456789ab"
#: The caller's own credentials (a profile or OIDC would put these in the environment); moto
#: takes any. The sandbox's are SANDBOX_AWS_ENV: none of those, nor a check-stage sandbox's
#: endpoint, may reach the `pulumi` CLI.
CALLER_AWS = {
    "AWS_ACCESS_KEY_ID": "AKIAWALKCALLER000001",  # pragma: allowlist secret
    "AWS_SECRET_ACCESS_KEY": "walk-caller-secret-not-real",  # pragma: allowlist secret
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class Walk:
    """The copy of the repository, shared by the lanes."""

    root: Path

    def stack_env(self, stack: str) -> dict[str, str]:
        """Ambient AWS for the real path: the sandbox stack the stand-in deploys to."""
        state = json.loads((self.root / ".sandbox" / stack / "sandbox.json").read_text())
        return {**CALLER_AWS, "AWS_ENDPOINT_URL": state["aws_endpoint_url"]}

    def last_run(self, stack: str, command: str) -> dict:
        """The newest run.json of `command` (every command writes reports/<stack>/<run>/).

        By command, not just the newest: the other lane may write a run for the same stack
        meanwhile (staging's `run` here, its previews there).
        """
        runs = sorted((self.root / "reports" / stack).glob("2*/run.json"))
        summaries = [json.loads(path.read_text()) for path in runs]
        return [s for s in summaries if s.get("command") == command][-1]

    def read(self, relative: str) -> str:
        return (self.root / relative).read_text(encoding="utf-8")


@dataclass
class Lane:
    """One operator's sequence of README lines, with its own stand-in `pulumi` log."""

    walk: Walk
    stand_in: Path
    stand_in_env: dict[str, str]
    #: The sandbox stack whose moto this lane's real-path lines use as "AWS".
    aws_stack: str
    label: str = ""
    outcomes: dict[str, BaseException | None] = field(default_factory=dict)
    finished: dict[str, threading.Event] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.walk.root

    def read(self, relative: str) -> str:
        return self.walk.read(relative)

    def pulumi_calls(self, *words: str) -> list[dict]:
        """This lane's recorded stand-in calls whose command words start with `words`."""
        found = []
        for call in calls(self.stand_in):
            command = [a for a in call["argv"] if not a.startswith("-")]
            if command[: len(words)] == list(words):
                found.append(call)
        return found


@dataclass
class Step:
    line: str
    #: "sandbox" (no AWS, no pulumi), or the sandbox stack the real path's AWS points at.
    target: str = "sandbox"
    exit_code: int = 0
    #: Substrings of stdout+stderr the README promises.
    says: tuple[str, ...] = ()
    then: Callable[[Lane, subprocess.CompletedProcess], None] | None = None


def _run_verified(lane: Lane, result: subprocess.CompletedProcess) -> None:
    """`run`: every stage, a verified version, the run folder and the index written."""
    stack = result.args[result.args.index("--stack") + 1]
    summary = lane.walk.last_run(stack, "run")
    assert summary["status"] == "succeeded" and summary["command"] == "run", summary["message"]
    assert [s["stage"] for s in summary["stages"]] == ["check", "preview", "up", "verify"]
    assert summary["verify"]["passed"] is True
    lane.label = summary["app_version"]
    run_dir = Path(summary["run_dir"])
    assert (run_dir / "pipeline.jsonl").is_file() and (run_dir / "verify" / "report.html").is_file()
    assert (lane.root / "reports" / stack / "index.html").is_file()
    assert f"{stack}: succeeded" in result.stdout


def _history_table(lane: Lane, result: subprocess.CompletedProcess) -> None:
    assert lane.label in result.stdout and "verified" in result.stdout


def _dev_outputs(lane: Lane, result: subprocess.CompletedProcess) -> None:
    outputs = json.loads(lane.read(".sandbox/dev/outputs.json"))
    assert outputs["api_url"] in result.stdout and outputs["app_version"] == lane.label
    assert lane.label in result.stdout


def _status_healthy(lane: Lane, result: subprocess.CompletedProcess) -> None:
    for part in ("moto", "proxy", "health"):
        assert part in result.stdout, result.stdout


def _preview_json(lane: Lane, result: subprocess.CompletedProcess) -> None:
    summary = json.loads(result.stdout)
    assert summary["stack"] == "dev" and summary["resources"]
    ops = {r["name"]: r["op"] for r in summary["resources"]}
    assert set(ops.values()) == {"same"}, ops  # nothing changed since `up`
    assert all(r["component"] for r in summary["resources"] if r["type"].startswith("aws:"))


def _manual_report(lane: Lane, result: subprocess.CompletedProcess) -> None:
    report = json.loads(lane.read("reports/dev/manual/verify.json"))
    assert report["passed"] is True, report["totals"]
    assert (lane.root / "reports/dev/manual/report.html").is_file()


def _load_report(lane: Lane, result: subprocess.CompletedProcess) -> None:
    report = json.loads(lane.read("reports/prod/verify.json"))
    (load,) = [c for c in report["checks"] if c["name"] == "load"]
    assert load["status"] == "PASSED", load
    assert (lane.root / "reports/prod/load/locust.html").is_file()


def _callers_credentials_only(lane: Lane) -> None:
    """The CLI saw the caller's AWS settings, never the sandbox's or the check stage's."""
    for call in calls(lane.stand_in):
        seen = call["env"]
        assert "AWS_SESSION_TOKEN" not in seen, call["argv"]
        for key, value in CALLER_AWS.items():
            assert seen.get(key) == value, (call["argv"], key, seen.get(key))
        endpoint = lane.walk.stack_env(lane.aws_stack)["AWS_ENDPOINT_URL"]
        assert seen.get("AWS_ENDPOINT_URL") == endpoint, (
            call["argv"],
            seen.get("AWS_ENDPOINT_URL"),
        )


def _stack_created_with_kms(lane: Lane, result: subprocess.CompletedProcess) -> None:
    (init,) = lane.pulumi_calls("stack", "init", "staging")
    assert init["argv"][-2:] == ["--secrets-provider", "awskms://alias/pulumi?region=us-east-1"]
    previews = lane.pulumi_calls("preview")
    argv = previews[-1]["argv"]
    assert argv[argv.index("--policy-pack") + 1] == str(lane.root / "policy")
    assert not lane.pulumi_calls("up")  # a preview changes nothing


def _markdown_written(lane: Lane, result: subprocess.CompletedProcess) -> None:
    text = lane.read("preview.md")
    assert text.startswith("<!-- passport-preview:staging -->"), text[:200]


def _staging_deployed(lane: Lane, result: subprocess.CompletedProcess) -> None:
    _run_verified(lane, result)
    up = lane.pulumi_calls("up")[-1]
    assert "--policy-pack" in up["argv"] and up["argv"][-2:] == ["--stack", "staging"]
    assert up["env"]["PASSPORT_APP_BUNDLE"].endswith(f"{lane.label}.zip")
    _callers_credentials_only(lane)


def _override_persisted(lane: Lane, result: subprocess.CompletedProcess) -> None:
    set_all = lane.pulumi_calls("config", "set-all")
    assert set_all and {c["argv"][-1] for c in set_all} == {"passport-photo-backend:maxInstances=4"}
    assert lane.pulumi_calls("up")[-1]["env"]["PASSPORT_APP_BUNDLE"].endswith(f"{lane.label}.zip")


def _prod_verified(lane: Lane, result: subprocess.CompletedProcess) -> None:
    report = json.loads(lane.read("reports/prod/verify.json"))
    assert report["passed"] is True, report["totals"]
    assert report["outputs"]["app_version"] == lane.label


def _rolled_back(lane: Lane, result: subprocess.CompletedProcess) -> None:
    summary = lane.walk.last_run("prod", "rollback")
    assert summary["rollback_version"] == lane.label and summary["status"] == "succeeded", summary
    up = lane.pulumi_calls("up")[-1]
    assert up["argv"][-2:] == ["--stack", "prod"]
    # the exact earlier artifact, fetched from the artifact bucket (bundles/<label>.zip); whether
    # EB holds the label is asked of EB, which moto does not play (tests/automation/ does that)
    assert lane.label in Path(up["env"]["PASSPORT_APP_BUNDLE"]).name
    _callers_credentials_only(lane)


def _destroy_refused(lane: Lane, result: subprocess.CompletedProcess) -> None:
    assert lane.pulumi_calls("destroy")  # it got as far as the CLI, which refused
    kept = json.loads(lane.read("build/deployment-records/prod.json"))
    assert kept  # the records were exported before the CLI was asked


def _sandbox_gone(lane: Lane, result: subprocess.CompletedProcess) -> None:
    assert not (lane.root / ".sandbox" / "dev").exists()
    assert json.loads(lane.read(".sandbox/.records/dev.json"))  # the audit trail outlives it


def _bundle_built(lane: Lane, result: subprocess.CompletedProcess) -> None:
    built = list((lane.root / "build" / "bundles").glob("v-*.zip"))
    assert built and any(b.stem in result.stdout + result.stderr for b in built), result.stdout


def _prod_up(lane: Lane, result: subprocess.CompletedProcess) -> None:
    lane.label = json.loads(lane.read(".sandbox/prod/outputs.json"))["app_version"]


#: In the order a user follows the README; every README line appears exactly once.
DEV_LANE = [
    # The app's own tools (README: "Quick start"); `a|b` runs the first, `[...]` is optional.
    Step("python -m app.models fetch u2netp|u2net", says=("u2netp: already present",)),
    Step("python -m app.models fetch mediapipe", says=("face_landmark.tflite: ok",)),
    Step("python -m app.models verify u2netp", says=("u2netp: ok",)),
    Step("python -m app.warmup", says=("warmup: rembg imported",)),
    Step(
        "python -m app.bundle [--model u2netp] [--out DIR] [--source DIR]",
        then=_bundle_built,
    ),
    # The pipeline on the sandbox (README: "The pipeline").
    Step("python -m automation run      --stack dev --engine sandbox", then=_run_verified),
    Step("python -m automation up       --stack dev", says=("up dev: succeeded",)),
    Step(
        "python -m automation verify   --stack dev --only health,ml",
        says=("verify dev: succeeded",),
    ),
    Step("python -m automation history  --stack dev", then=_history_table),
    Step("python -m automation outputs  --stack dev", then=_dev_outputs),
    Step("python -m automation drift    --stack dev", says=("no drift in dev",)),
    Step(
        "python -m automation metrics  --stack dev --since 30d",
        says=("delivery of dev over the last 30d", "deployment frequency", "pipeline health"),
    ),
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
    # Deploying to AWS: the real path, against the stand-in `pulumi` (staging's `run` and `up`
    # land on the dev sandbox; its check and previews run in the prod lane, to even the lanes).
    Step(
        "python -m automation run     --stack staging --engine pulumi",
        target="dev",
        then=_staging_deployed,
    ),
    Step(
        "python -m automation up       --stack staging --engine pulumi --config maxInstances=4",
        target="dev",
        says=("persisted in Pulumi.staging.yaml",),
        then=_override_persisted,
    ),
    Step("python -m sandbox down    --stack dev", then=_sandbox_gone),
]
PROD_LANE = [
    # Load testing, on a prod-like fleet.
    Step(
        "python -m sandbox up --stack prod",
        says=("stack 'prod' is up in the sandbox",),
        then=_prod_up,
    ),
    Step("python -m verify --stack prod --engine sandbox --only load", then=_load_report),
    # Deploying to AWS, first steps for staging (the stand-in's "AWS" is the prod sandbox's moto).
    Step(
        "python -m automation check   --stack staging --engine pulumi",
        target="prod",
        says=("check staging: succeeded",),
    ),
    Step(
        "python -m automation preview --stack staging --engine pulumi "
        "--secrets-provider awskms://alias/pulumi?region=us-east-1",
        target="prod",
        then=_stack_created_with_kms,
    ),
    Step(
        "python -m automation preview  --stack staging --engine pulumi --markdown preview.md",
        target="prod",
        then=_markdown_written,
    ),
    # The real path for prod (→ the prod sandbox), deployed before by `up` (a setup step).
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
        "python -m automation promote --from staging --to prod --engine pulumi "
        "--label v-000000000000",
        target="prod",
        exit_code=2,
        says=("refusing to promote v-000000000000: it was not verified on staging",),
    ),
    Step(
        "python -m automation destroy  --stack prod --engine pulumi --confirm prod",
        target="prod",
        exit_code=1,
        says=("protected resources", "deletionProtection: false in Pulumi.prod.yaml"),
        then=_destroy_refused,
    ),
]
LANES = {"dev": DEV_LANE, "prod": PROD_LANE}
STEPS = DEV_LANE + PROD_LANE


def _normal(line: str) -> str:
    return " ".join(shlex.split(line))


def test_every_readme_line_is_walked() -> None:
    """Every `python -m …` line of the README's bash blocks. (The `make` targets are what CI and
    `make demo` run; the `locust` lines start a distributed or interactive Locust, run headless
    here by the `--only load` line with the same locustfile.)"""
    walked = sorted(_normal(s.line) for s in STEPS)
    assert walked == sorted(_normal(line) for line in COMMANDS + app_tool_lines())


def _copy_repository(dest: Path) -> None:
    """What `git clone` + `make setup` leave: tracked files, the model files, `.venv`."""
    listed = subprocess.run(  # noqa: S603 - git, our own repository
        ["git", "ls-files", "-z"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
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
    # A short load plan (the README's "~70 s with the prod plan" is the committed one), run by
    # its own README line only: the rollback's verify skips it (the pipeline's choice of `load`
    # is tested in tests/verify/test_load_units.py).
    prod = dest / "Pulumi.prod.yaml"
    config = yaml.safe_load(prod.read_text())
    plan = config["config"]["passport-photo-backend:loadTest"]
    plan["durationS"], plan["runInPipeline"] = 30, False  # 30: the least allowed
    prod.write_text(yaml.safe_dump(config, sort_keys=False))
    # The stand-in lands staging's `up` on the dev sandbox, which refuses any bundle but the one
    # it serves: staging builds dev's kind of bundle here (the lock without the wheelhouse), so
    # the two labels agree. Self-contained bundles are walked by prod (→ the prod sandbox).
    staging = dest / "Pulumi.staging.yaml"
    config = yaml.safe_load(staging.read_text())
    config["config"]["passport-photo-backend:selfContainedBundle"] = False
    staging.write_text(yaml.safe_dump(config, sort_keys=False))
    # Latency budgets a loaded CI machine meets: the walk proves the commands run as documented,
    # not this machine's speed (the budget itself is tested against a deliberately slow app:
    # tests/verify/test_sandbox_deployment.py::test_app_slower_than_budget_fails_performance).
    # Every check still runs and still judges errors.
    for stack in ("dev", "staging", "prod"):
        path = dest / f"Pulumi.{stack}.yaml"
        config = yaml.safe_load(path.read_text())
        config["config"]["passport-photo-backend:latencyBudgetMs"] = 30_000
        plan = config["config"].get("passport-photo-backend:loadTest")
        if isinstance(plan, dict) and "thresholds" in plan:
            for limits in plan["thresholds"].values():
                limits["p95Ms"], limits["p99Ms"] = 30_000, 60_000
        path.write_text(yaml.safe_dump(config, sort_keys=False))


def _env(lane: Lane, step: Step) -> dict[str, str]:
    """A user's shell: no AWS/Pulumi settings of this test session; the venv first on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "PULUMI_", "GITHUB_", "STAND_IN_")) and k != "CI"
    }
    env["PATH"] = f"{lane.root / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    if step.target != "sandbox":
        env.update({k: v for k, v in lane.stand_in_env.items() if k.startswith("STAND_IN_")})
        env["PATH"] = f"{lane.stand_in / 'bin'}{os.pathsep}{env['PATH']}"
        env.update(lane.walk.stack_env(step.target))
    return env


def _run(lane: Lane, line: str, step: Step) -> subprocess.CompletedProcess:
    line = re.sub(r"\s*\[[^\]]*\]", "", line)  # `[--opt X]`: optional, left out
    words = shlex.split(line.replace(PLACEHOLDER, lane.label or PLACEHOLDER))
    words = [w.split("|")[0] if "|" in w and not w.startswith("-") else w for w in words]
    assert words[0] == "python"
    return subprocess.run(  # noqa: S603 - the README's own commands
        [str(lane.root / ".venv" / "bin" / "python"), *words[1:]],
        cwd=lane.root,
        env=_env(lane, step),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _walk_one(lane: Lane, step: Step) -> None:
    """Run one README line and check what the README promises (raises AssertionError)."""
    if step.line.startswith("python -m verify --stack prod --engine pulumi"):
        # prod was deployed before this line: the walk's one step that is not a README line.
        setup = Step("python -m automation up --stack prod --engine pulumi", target="prod")
        done = _run(lane, setup.line, setup)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    result = _run(lane, step.line, step)
    said = result.stdout + result.stderr
    assert result.returncode == step.exit_code, (
        f"{step.line}: exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    assert "Traceback" not in said, said[-5000:]
    for text in step.says:
        assert text in said, f"{step.line}: {text!r} not in\n{said[-4000:]}"
    if step.then is not None:
        step.then(lane, result)


def _walk_lane(lane: Lane, steps: list[Step]) -> None:
    for step in steps:
        try:
            _walk_one(lane, step)
            lane.outcomes[step.line] = None
        except BaseException as exc:  # noqa: BLE001 - reported by the step's test
            lane.outcomes[step.line] = exc
        finally:
            lane.finished[step.line].set()


@pytest.fixture(scope="module")
def lanes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Lane]]:
    root = tmp_path_factory.mktemp("fresh-clone")
    _copy_repository(root)
    walk = Walk(root=root)
    started: dict[str, Lane] = {}
    for name, steps in LANES.items():
        folder = tmp_path_factory.mktemp(f"stand-in-pulumi-{name}")
        lane = Lane(walk, folder, install_stand_in(folder), aws_stack=name)
        deploy_to(folder, "staging", root / ".sandbox" / "dev" / "outputs.json")
        deploy_to(folder, "prod", root / ".sandbox" / "prod" / "outputs.json")
        lane.finished = {step.line: threading.Event() for step in steps}
        started[name] = lane
    threads = [
        threading.Thread(target=_walk_lane, args=(started[n], LANES[n]), daemon=True) for n in LANES
    ]
    for thread in threads:
        thread.start()
    yield started
    for thread in threads:
        thread.join(timeout=1800)
    for stack in ("dev", "prod"):
        if (root / ".sandbox" / stack).exists():
            subprocess.run(  # noqa: S603 - our own CLI
                [str(root / ".venv/bin/python"), "-m", "sandbox", "down", "--stack", stack],
                cwd=root,
                capture_output=True,
                timeout=300,
                check=False,
            )


def _lane_of(step: Step) -> str:
    return next(name for name, steps in LANES.items() if step in steps)


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS, ids=lambda s: _normal(s.line)[10:70])
def test_readme_line_runs_as_documented(lanes: dict[str, Lane], step: Step) -> None:
    lane = lanes[_lane_of(step)]
    assert lane.finished[step.line].wait(timeout=1800), f"{step.line}: never finished"
    outcome = lane.outcomes[step.line]
    if outcome is not None:
        raise outcome


@pytest.mark.slow
def test_a_walk_step_fails_when_the_line_does_not_do_what_it_says(
    lanes: dict[str, Lane],
) -> None:
    """The walk's assertions bite: a line whose exit code or output differs is caught."""
    lane = lanes["dev"]
    wrong = Step("python -m sandbox status  --stack nope", says=("health",))
    with pytest.raises(AssertionError, match="exit 2"):
        _walk_one(lane, wrong)
    result = _run(lane, wrong.line, wrong)
    assert "unknown stack 'nope'" in result.stderr
    assert re.search(r"available: .*dev", result.stderr)
