"""The judge in flight: beside `up`, while EB splits traffic, decide and abort a bad canary.

The provider behind `pulumi up` (and the sandbox's `up`) blocks until EB has finished the
deployment — through the whole EvaluationTime of a TrafficSplitting deploy — and EB itself
rolls back only on its enhanced-health status. So the judge runs in a thread beside `up`:

1. it polls `DescribeInstancesHealth` once per health window and keeps every response;
2. the split has begun when an instance running the new label reports requests (EB sends it
   traffic only once it passed health checks); baseline and canary are judged on the windows
   from then on, so both saw the same traffic at the same time (Kayenta: start them together);
3. at half the evaluation time it judges once and aborts on a clear `fail` (an early stop, as
   Kayenta's intervals do); shortly before the end (`FINAL_MARGIN`) the decision is final,
   taken while EB still holds the split: `fail` aborts; `marginal` or `inconclusive` aborts
   too (fail safe) unless a human will decide (`human_review`: the GitHub `production`
   environment's reviewers), in which case EB promotes and the run ends blocked on that
   human; `pass` lets EB promote.

Two looks, not one per window: every extra look is another chance of a false alarm
(docs/canary.md). `AbortEnvironmentUpdate` returns all traffic to the old instances; `up` then
fails and the pipeline reports the canary's verdict (exit 3). If `up` ends before the final
look (a split shorter than expected), the verdict is taken on what was collected and acted on
after the fact: a failing version that EB already promoted is rolled back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from automation.canary.health import EnvironmentHealth
from automation.canary.judge import JudgeConfig, Verdict, judge
from automation.canary.samples import samples_from_health

#: The final decision is taken this long before EB ends the split (a share of the evaluation
#: time, at least a few health windows): late enough for most of the data, early enough that
#: the abort lands before EB shifts the traffic.
FINAL_MARGIN = 0.15
FINAL_MARGIN_WINDOWS = 4
INTERIM_AT = 0.5


@dataclass
class CanaryOutcome:
    """What the watch saw and decided (canary.json, the record, the report)."""

    baseline: str
    canary: str
    verdict: Verdict | None = None
    aborted: bool = False
    abort_error: str | None = None
    final: bool = False
    """The verdict was taken at the final look (while the split held)."""
    looks: list[dict[str, Any]] = field(default_factory=list)
    split_started_s: float | None = None
    decided_after_s: float | None = None
    responses: list[dict[str, Any]] = field(default_factory=list, repr=False)
    polls: int = 0
    poll_errors: int = 0

    @property
    def decision(self) -> str | None:
        return self.verdict.decision if self.verdict else None

    def to_json(self) -> dict[str, Any]:
        return {
            "baseline_version": self.baseline,
            "canary_version": self.canary,
            "decision": self.decision,
            "reason": self.verdict.reason if self.verdict else None,
            "score": self.verdict.score if self.verdict else None,
            "aborted": self.aborted,
            "abort_error": self.abort_error,
            "final_look": self.final,
            "looks": self.looks,
            "split_started_s": self.split_started_s,
            "decided_after_s": self.decided_after_s,
            "polls": self.polls,
            "poll_errors": self.poll_errors,
            "verdict": self.verdict.to_json() if self.verdict else None,
        }


class CanaryWatch:
    """Polls the health API, judges at two looks, aborts a failing canary."""

    def __init__(
        self,
        health: EnvironmentHealth,
        *,
        baseline: str,
        canary: str,
        config: JudgeConfig,
        evaluation_s: float,
        window_s: float,
        human_review: bool = False,
        log: Callable[[str], None] = lambda line: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.health = health
        self.config = config
        self.evaluation_s = evaluation_s
        self.window_s = window_s
        self.human_review = human_review
        self.log = log
        self.clock = clock
        self.outcome = CanaryOutcome(baseline, canary)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._began = clock()
        self._split_at: float | None = None

    @property
    def final_at(self) -> float:
        """Seconds after the split began when the final look is taken."""
        margin = max(FINAL_MARGIN * self.evaluation_s, FINAL_MARGIN_WINDOWS * self.window_s)
        return max(self.evaluation_s * INTERIM_AT, self.evaluation_s - margin)

    # -- the thread ------------------------------------------------------------------------

    def start(self) -> CanaryWatch:
        self._thread = threading.Thread(target=self.run, name="canary-watch", daemon=True)
        self._thread.start()
        return self

    def finish(self) -> CanaryOutcome:
        """Stop polling (`up` returned); judge what was collected if no final look happened."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.outcome.verdict is None or not (self.outcome.final or self.outcome.aborted):
            self._look("after the split", final=False)
        return self.outcome

    def run(self) -> None:
        interim_done = False
        next_poll = self.clock()
        while not self._stop.is_set():
            # One poll per window, on a fixed schedule: a slow poll must not let windows go
            # unseen (each window's requests are counted once, by the poll that ends it).
            next_poll += self.window_s
            self._poll()
            if self._split_at is not None and not self.outcome.aborted:
                elapsed = self.clock() - self._split_at
                if not interim_done and elapsed >= INTERIM_AT * self.evaluation_s:
                    interim_done = True
                    verdict = self._look("interim", final=False)
                    if verdict.decision == "fail":
                        self._abort(verdict)
                if elapsed >= self.final_at:
                    verdict = self._look("final", final=True)
                    if verdict.decision == "fail" or (
                        verdict.decision in ("marginal", "inconclusive") and not self.human_review
                    ):
                        self._abort(verdict)
                    return
            if self.outcome.aborted:
                return
            self._stop.wait(max(0.0, next_poll - self.clock()))

    # -- steps -----------------------------------------------------------------------------

    def _poll(self) -> None:
        try:
            response = self.health.instances()
        except Exception as exc:  # noqa: BLE001 - a lost poll is a lost window, said
            self.outcome.poll_errors += 1
            self.log(f"canary: health poll failed ({type(exc).__name__}: {exc})")
            return
        self.outcome.polls += 1
        if self._split_at is None and self._canary_serving(response):
            # The split began when the new instances were deployed and in service, which EB
            # reports (Deployment.DeploymentTime); a late poll must not push the final look
            # past the end of EB's evaluation.
            self._split_at = self.clock() - self._since_deployed(response)
            self.outcome.split_started_s = round(self._split_at - self._began, 2)
            self.log(
                f"canary: {self.outcome.canary} takes traffic beside {self.outcome.baseline}; "
                f"judging for {self.evaluation_s:.0f}s"
            )
        if self._split_at is not None:
            self.outcome.responses.append(response)

    def _since_deployed(self, response: Mapping[str, Any]) -> float:
        """Seconds since the canary's instances were deployed (0 when EB does not say)."""
        times = [
            (item.get("Deployment") or {}).get("DeploymentTime")
            for item in response.get("InstanceHealthList") or []
            if (item.get("Deployment") or {}).get("VersionLabel") == self.outcome.canary
        ]
        stamps = [t.timestamp() for t in times if isinstance(t, datetime)]
        if not stamps:
            return 0.0
        return min(max(0.0, time.time() - max(stamps)), self.evaluation_s)

    def _canary_serving(self, response: Mapping[str, Any]) -> bool:
        for item in response.get("InstanceHealthList") or []:
            label = (item.get("Deployment") or {}).get("VersionLabel")
            requests = (item.get("ApplicationMetrics") or {}).get("RequestCount") or 0
            if label == self.outcome.canary and requests > 0:
                return True
        return False

    def _look(self, name: str, *, final: bool) -> Verdict:
        samples = samples_from_health(
            self.outcome.responses, self.outcome.baseline, self.outcome.canary
        )
        verdict = judge(samples.baseline, samples.canary, self.config)
        self.outcome.verdict = verdict
        self.outcome.final = self.outcome.final or final
        self.outcome.decided_after_s = round(self.clock() - self._began, 2)
        self.outcome.looks.append(
            {
                "look": name,
                "at_s": self.outcome.decided_after_s,
                "decision": verdict.decision,
                "score": verdict.score,
                "reason": verdict.reason,
                "samples": {
                    "baseline": max((len(v) for v in samples.baseline.values()), default=0),
                    "canary": max((len(v) for v in samples.canary.values()), default=0),
                },
            }
        )
        self.log(f"canary: {name} look: {verdict.decision} — {verdict.reason}")
        return verdict

    def _abort(self, verdict: Verdict) -> None:
        self.log(f"canary: AbortEnvironmentUpdate ({verdict.decision}: {verdict.reason})")
        try:
            self.health.abort()
        except Exception as exc:  # noqa: BLE001 - reported; the pipeline rolls back instead
            self.outcome.abort_error = f"{type(exc).__name__}: {exc}"
            self.log(f"canary: abort failed: {self.outcome.abort_error}")
            return
        self.outcome.aborted = True
