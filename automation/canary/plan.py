"""One run's canary: the stack's `canary` key, the judge's config, the windows and the traffic.

Built once per command by the wiring (automation/wiring.py) from the run's parsed config, so
the pipeline asks nothing of the stack file again. `--time-scale F` (the sandbox only) divides
the evaluation, the bake and EB's 10-second health window (never below one second).
"""

from __future__ import annotations

from dataclasses import dataclass

from automation.canary.judge import JudgeConfig
from automation.canary.settings import judge_config
from automation.canary.traffic import SANDBOX_TRAFFIC, TrafficPlan
from components.config import CanaryConfig

#: EB's enhanced-health window.
HEALTH_WINDOW_S = 10.0


@dataclass(frozen=True)
class CanaryPlan:
    config: CanaryConfig
    judge: JudgeConfig
    time_scale: float = 1.0
    traffic: TrafficPlan | None = None
    """Synthetic traffic during the windows (None: real users only)."""
    human_review: bool = False
    """Marginal/inconclusive verdicts wait for a human (else they fail safe: aborted)."""

    @classmethod
    def build(
        cls,
        config: CanaryConfig,
        *,
        sandbox: bool,
        time_scale: float = 1.0,
        human_review: bool = False,
    ) -> CanaryPlan:
        """The plan for a stack; the sandbox always gets synthetic traffic (it has no users)."""
        traffic = SANDBOX_TRAFFIC if sandbox else (TrafficPlan() if config.synthetic_load else None)
        return cls(config, judge_config(config), time_scale, traffic, human_review)

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    @property
    def evaluation_s(self) -> float:
        return self.config.evaluation_minutes * 60 / self.time_scale

    @property
    def bake_s(self) -> float:
        return self.config.bake_minutes * 60 / self.time_scale

    @property
    def window_s(self) -> float:
        return max(1.0, HEALTH_WINDOW_S / self.time_scale)
