"""The `check` stage: everything that can be proved before a deployment touches the stack.

Each check is a function returning a Finding; the stage runs them all and halts the pipeline
with the complete list of failures, because fixing one problem per CI run is a slow way to learn
about five.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import Version

from app.lock import logical_lines
from app.models import MODELS, md5_of, model_path
from common.paths import APP_DIR
from common.platforms import platform_branch, platform_to_declare, platform_version
from sandbox.bundle_venv import install_bundle
from sandbox.environment import unpack
from sandbox.errors import SandboxError

APP_REQUIREMENTS = APP_DIR / "requirements.txt"


@dataclass
class Finding:
    name: str
    ok: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "message": self.message, "details": self.details}


def parse_requirements(path: Path) -> tuple[list[Requirement], list[str]]:
    """Requirements of a pip file, and the lines that are not valid requirements."""
    reqs, bad = [], []
    # The hashed lock's `name==v \` + `--hash=...` continuations are one logical line.
    for line in logical_lines(path.read_text(encoding="utf-8")):
        if line.startswith("-"):
            continue
        line = line.split(" --hash", 1)[0].strip()
        try:
            reqs.append(Requirement(line))
        except InvalidRequirement:
            bad.append(line)
    return reqs, bad


def check_requirements_pinned(path: Path = APP_REQUIREMENTS) -> Finding:
    """Every runtime dependency pinned exactly, with the ML constraints the app depends on."""
    reqs, bad = parse_requirements(path)
    problems = [f"unparseable line {line!r}" for line in bad]
    by_name = {r.name.lower().replace("_", "-"): r for r in reqs}
    for req in reqs:
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==":
            problems.append(f"{req.name} is not pinned with == ({req.specifier or 'no version'})")
    opencv = by_name.get("opencv-python-headless")
    if opencv is None:
        problems.append("opencv-python-headless is missing (the app's face detection needs it)")
    elif any(s.operator == "==" and Version(s.version).major >= 5 for s in opencv.specifier):
        problems.append("opencv-python-headless must be <5: 5.x ships no Haar cascades")
    if "opencv-python" in by_name:
        problems.append("opencv-python (GUI build) must not be installed next to the headless one")
    rembg = by_name.get("rembg")
    if rembg is None:
        problems.append("rembg is missing (background removal)")
    elif "cpu" not in rembg.extras:
        problems.append("rembg needs its [cpu] extra, or it cannot be imported")
    for needed in ("numpy", "onnxruntime", "gunicorn", "flask"):
        if needed not in by_name:
            problems.append(f"{needed} is missing")
    if problems:
        return Finding("requirements_pinned", False, "; ".join(problems))
    return Finding("requirements_pinned", True, f"{len(reqs)} requirements, all pinned")


def check_requirements_installed(path: Path = APP_REQUIREMENTS) -> Finding:
    """The pins are what we test with (installed here) and pip sees no conflicts among them."""
    reqs, _ = parse_requirements(path)
    problems = []
    for req in reqs:
        try:
            have = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{req.name} is pinned but not installed in this environment")
            continue
        if not req.specifier.contains(have, prereleases=True):
            problems.append(f"{req.name} pinned {req.specifier}, installed {have}")
    result = subprocess.run(  # noqa: S603 - fixed command
        [sys.executable, "-m", "pip", "check"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        problems.append("pip check: " + " | ".join(result.stdout.strip().splitlines()[:5]))
    if problems:
        return Finding("requirements_compatible", False, "; ".join(problems))
    return Finding("requirements_compatible", True, "installed versions match the pins")


def check_bundle_installs(bundle: Path) -> Finding:
    """The bundle's own requirements.txt installs, as EB's pip would run it, into a clean venv.

    Offline from the bundle's wheelhouse (or this machine's wheel pool for an index bundle);
    the venv is cached by the lock's digest (sandbox/bundle_venv.py), so this costs a build
    once per lock and an unzip after that. A missing dependency, a conflicting pin or a wheel
    that does not match its hash fails here, naming the package, before anything is deployed.
    """
    with tempfile.TemporaryDirectory(prefix="bundle-check-") as tmp:
        release = Path(tmp) / "release"
        try:
            unpack(bundle, release)
            bin_dir = install_bundle(release)
        except SandboxError as exc:
            return Finding("bundle_installs", False, f"{bundle.name}: {exc}")
    return Finding(
        "bundle_installs",
        True,
        f"{bundle.name}: its requirements.txt installs offline into a clean venv "
        f"({bin_dir.parent.name})",
    )


def check_python_version(platform_python: str) -> Finding:
    """The bundle is tested on the Python the EB platform runs, or the test proves nothing."""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if here != platform_python:
        return Finding(
            "python_version",
            False,
            f"EB platform runs Python {platform_python}, this environment is {here}; "
            f"recreate .venv with python{platform_python}",
        )
    return Finding("python_version", True, f"Python {here} matches the EB platform")


def check_model(model: str) -> Finding:
    """The configured weights are present with the right size and md5 (no run-time download)."""
    spec = MODELS.get(model)
    if spec is None:
        return Finding("model", False, f"unknown model {model!r}; allowed {sorted(MODELS)}")
    path = model_path(model)
    if not path.exists():
        return Finding("model", False, f"{path} is missing; run `make models MODEL={model}`")
    size, digest = path.stat().st_size, md5_of(path)
    if size != spec.size or digest != spec.md5:
        return Finding(
            "model",
            False,
            f"{path}: size {size} md5 {digest}, expected {spec.size} md5 {spec.md5}; "
            f"delete it and run `make models MODEL={model}`",
        )
    return Finding("model", True, f"{model} present, md5 {digest}")


def check_platform(pinned: str, eb_client: Any, live: str | None = None) -> Finding:
    """The pinned EB platform against what EB offers and what the environment runs (`live`).

    Managed updates move a running environment ahead of its pin within the branch; the deploy
    then declares the live platform (common/platforms.py), so neither a newer live platform nor
    a retired pin blocks it: the finding says which platform to move the pin to. Only a retired
    pin with no environment to follow fails: EB cannot create an environment on it.
    """
    names = eb_client.list_available_solution_stacks().get("SolutionStacks", [])
    branch = platform_branch(pinned)
    newer = sorted(
        (
            n
            for n in names
            if platform_branch(n) == branch
            and (platform_version(n) or ()) > (platform_version(pinned) or ())
        ),
        key=lambda n: platform_version(n) or (),
    )
    declared = platform_to_declare(pinned, live)
    move = f"set solutionStack to {newer[-1]!r} in the stack file" if newer else ""
    running = (
        f"; the environment runs {declared!r} (managed updates) and deploys declare it"
        if declared != pinned
        else ""
    )
    details = {"newer": newer[-1:], "live": live, "declared": declared}
    if pinned not in names:
        if declared != pinned:
            return Finding(
                "platform",
                True,
                f"the pinned EB platform {pinned!r} is retired in this region{running}; "
                + (move or "move solutionStack to a platform of its branch"),
                details,
            )
        return Finding(
            "platform",
            False,
            f"the pinned EB platform {pinned!r} is not available in this region, and no "
            "environment runs a newer one of its branch; "
            + (
                move
                or "pick an available platform with `aws elasticbeanstalk "
                "list-available-solution-stacks`"
            ),
            details,
        )
    if newer:
        return Finding(
            "platform",
            True,
            f"{pinned!r} is pinned{running}; a newer platform of the branch exists: "
            f"{newer[-1]!r} ({move} to move to it)",
            details,
        )
    return Finding("platform", True, f"{pinned!r} is the newest platform of its branch", details)


def run_all(checks: list[Callable[[], Finding]]) -> list[Finding]:
    """Run every check; an exception inside one is a failed finding, not a crashed stage."""
    findings = []
    for check in checks:
        try:
            findings.append(check())
        except Exception as exc:  # noqa: BLE001 - reported as a finding
            name = getattr(check, "__name__", "check").removeprefix("check_")
            findings.append(Finding(name, False, f"{type(exc).__name__}: {exc}"))
    return findings
