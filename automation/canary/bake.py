"""The bake: after promotion, watch the stack's CloudWatch alarms; one that fires rolls back.

What CodeDeploy and AppConfig do with alarms during a bake time, for Elastic Beanstalk, whose
own rollback never looks at our alarms. The alarms watched are the stack's own (every alarm
notifying its `alarm_topic_arn`, as verify's monitoring check reads them); one in ALARM that
entered it after the deployment began ends the bake at once (an alarm already firing before
the deployment is not the new version's doing). On AWS CloudWatch evaluates them; in the
sandbox its moto's CloudWatch agent does (sandbox/cloudwatch_agent.py), on the metrics the
sandbox measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from verify.aws import make_client
from verify.checks.monitoring import alarms_notifying

from .health import POLL_CONFIG

#: How often the alarms are read (at most; a short bake reads them ten times).
POLL_S = 5.0


@dataclass
class BakeOutcome:
    """The bake's result (canary.json, the record, the report)."""

    seconds: float
    watched: list[str] = field(default_factory=list)
    fired: list[dict[str, Any]] = field(default_factory=list)
    polls: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.fired

    @property
    def reason(self) -> str:
        if not self.fired:
            return f"no alarm fired in {self.seconds:.0f}s ({len(self.watched)} watched)"
        first = self.fired[0]
        return f"alarm {first['name']} fired during the bake: {first['reason']}"

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "passed": self.passed,
            "reason": self.reason,
            "watched": self.watched,
            "fired": self.fired,
            "polls": self.polls,
            "errors": self.errors,
        }


def watch_alarms(
    outputs: Mapping[str, Any],
    aws_env: Mapping[str, str] | None,
    seconds: float,
    *,
    since: datetime | None = None,
    log: Callable[[str], None] = lambda line: None,
    make: Callable[..., Any] = make_client,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> BakeOutcome:
    """Read the stack's alarms until `seconds` pass or one enters ALARM after `since`."""
    since = since or datetime.now(tz=UTC)
    env = {**(aws_env or {}), "AWS_REGION": str(outputs.get("region") or "us-east-1")}
    cloudwatch = make("cloudwatch", env, config=POLL_CONFIG)
    topic = str(outputs.get("alarm_topic_arn") or "")
    outcome = BakeOutcome(seconds=round(seconds, 2))
    interval = max(0.5, min(POLL_S, seconds / 10))
    deadline = clock() + seconds
    while True:
        try:
            alarms = alarms_notifying(cloudwatch.describe_alarms, topic)
        except Exception as exc:  # noqa: BLE001 - a lost read is retried at the next poll
            outcome.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            alarms = []
        outcome.polls += 1
        outcome.watched = sorted({a["AlarmName"] for a in alarms} | set(outcome.watched))
        for alarm in alarms:
            updated = alarm.get("StateUpdatedTimestamp")
            if alarm.get("StateValue") == "ALARM" and (updated is None or updated >= since):
                outcome.fired.append(
                    {
                        "name": alarm["AlarmName"],
                        "reason": alarm.get("StateReason", ""),
                        "at": updated.isoformat() if updated else None,
                    }
                )
        if outcome.fired:
            log(f"bake: {outcome.reason}")
            return outcome
        if clock() >= deadline:
            log(f"bake: {outcome.reason}")
            return outcome
        sleep(min(interval, max(0.0, deadline - clock())))
