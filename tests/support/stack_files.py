"""The committed stack files (`Pulumi.<stack>.yaml`) as tests read them.

The program tests, the policy tests and the sandbox tests all take their expectations from the
stack file itself, so a setting changed there is checked everywhere without editing a test.
"""

from __future__ import annotations

from typing import Any

import yaml

from common.paths import ROOT


def stack_file_config(stack: str) -> dict[str, Any]:
    """The `config:` block of `Pulumi.<stack>.yaml`, keys namespaced as in the file."""
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
