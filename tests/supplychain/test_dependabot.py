"""`.github/dependabot.yml` is valid for GitHub and covers what we pin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from common.paths import ROOT

CONFIG = ROOT / ".github" / "dependabot.yml"


def validate(path: Path) -> subprocess.CompletedProcess:
    """check-jsonschema's vendored copy of the schema GitHub publishes (SchemaStore)."""
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("check-jsonschema")),
            "--builtin-schema",
            "vendor.dependabot",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_committed_configuration_is_valid() -> None:
    result = validate(CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda c: c["updates"][0].update({"package-ecosystem": "pip-compile"}), "ecosystem"),
        (lambda c: c["updates"][0]["schedule"].update({"interval": "fortnightly"}), "interval"),
        (lambda c: c.update({"version": 1}), "version 1 is the retired format"),
        (lambda c: c["updates"][2].pop("schedule"), "schedule is required"),
    ],
)
def test_a_stale_or_wrong_entry_fails_validation(tmp_path: Path, mutate, why: str) -> None:
    config = yaml.safe_load(CONFIG.read_text())
    mutate(config)
    broken = tmp_path / "dependabot.yml"
    broken.write_text(yaml.safe_dump(config))
    assert validate(broken).returncode != 0, why


def test_every_pinned_manifest_and_the_workflows_are_covered() -> None:
    """The root tools, the app's runtime closure and the pinned actions each get updates."""
    updates = yaml.safe_load(CONFIG.read_text())["updates"]
    covered = {(u["package-ecosystem"], u["directory"]) for u in updates}
    assert covered == {("pip", "/"), ("pip", "/app"), ("github-actions", "/")}
    assert (ROOT / "requirements-dev.txt").is_file()
    assert (ROOT / "app" / "requirements.txt").is_file()
    assert any((ROOT / ".github" / "workflows").glob("*.yml"))
