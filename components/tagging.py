"""Tags every taggable resource carries: owner project, stack, and that Pulumi manages it."""

from __future__ import annotations

from components.config import PROJECT, StackConfig


def standard_tags(config: StackConfig) -> dict[str, str]:
    """Extra tags from config first, so the three ownership tags can never be overridden."""
    return {**config.tags, "project": PROJECT, "stack": config.stack, "managed-by": "pulumi"}
