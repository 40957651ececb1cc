"""The judge's config from the stack's `canary` key: the judge's defaults, the stack's overrides.

Lives on the automation side because components (where the key is parsed) must not import
automation; the key holds only overrides, so a stack that names nothing gets the measured
defaults of automation/canary/judge.py (docs/canary.md).
"""

from __future__ import annotations

from dataclasses import replace

from automation.canary.judge import JudgeConfig
from components.config import CanaryConfig


def judge_config(canary: CanaryConfig) -> JudgeConfig:
    """JudgeConfig.default() with the stack's effect sizes and pass/marginal scores."""
    return replace(
        JudgeConfig.default().with_effect_sizes(canary.effect_sizes),
        pass_score=canary.pass_score,
        marginal_score=canary.marginal_score,
    )
