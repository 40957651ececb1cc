"""One run's canary: the stack's `canary` key, the judge's config, the windows and the traffic.

Built once per command by the wiring (automation/wiring.py) from the run's parsed config, so
the pipeline asks nothing of the stack file again. `--time-scale F` (the sandbox only) divides
the evaluation, the bake and EB's 10-second health window (never below one second) — and the
judge's traffic guard (`min_requests`, at least `SCALED_MIN_REQUESTS`): the sandbox's machine
cannot send F times the requests, so a compressed window holds about 1/F of what EB's would,
and the guard that asks for a real window's worth would make every compressed canary
inconclusive. The statistics stay the judge's; only the volume it waits for shrinks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from automation.canary.judge import JudgeConfig
from automation.canary.settings import judge_config
from automation.canary.traffic import SANDBOX_TRAFFIC, TrafficPlan
from components.config import CanaryConfig

#: EB's enhanced-health window.
HEALTH_WINDOW_S = 10.0
#: The least traffic guard a time-scaled canary keeps (requests per version).
SCALED_MIN_REQUESTS = 200


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
        judge = judge_config(config)
        if time_scale > 1:
            scaled = max(SCALED_MIN_REQUESTS, math.ceil(judge.min_requests / time_scale))
            judge = replace(judge, min_requests=min(judge.min_requests, scaled))
        return cls(config, judge, time_scale, traffic, human_review)

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
