"""Deployment metrics to CloudWatch, failure/rollback notices to the stack's SNS topic, and the
team's channels (the `notifications` stack setting, through Apprise).

AWS calls go through the ambient boto3 configuration (real AWS), or to the target an explicit
`aws_env` names (the sandbox's moto; see verify.aws.make_client). Team messages go through
Apprise (https://github.com/caronc/apprise): one library for Slack, Microsoft Teams workflows,
email and generic JSON webhooks instead of a hand-written post per service. Every problem here
is logged, never allowed to mask the deployment's own result; a channel's URL (its token) never
appears in a message, a log line or a report.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from common.contracts import DEPLOYMENTS_NAMESPACE
from components.config.rules_notifications import NOTIFY_EVENTS
from verify.aws import make_client

from .errors import PipelineError
from .status import RunStatus

NAMESPACE = DEPLOYMENTS_NAMESPACE  # the dashboard (components/dashboard.py) shows them
log = logging.getLogger("automation.notify")


def put_deployment_metrics(
    stack: str,
    *,
    duration_s: float,
    succeeded: bool,
    rolled_back: bool,
    client: Any = None,
    aws_env: Mapping[str, str] | None = None,
) -> bool:
    """Duration, success and rollback count as custom metrics (dimension Stack)."""
    try:
        client = client or make_client("cloudwatch", aws_env)
        dims = [{"Name": "Stack", "Value": stack}]
        client.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": "DeploymentDuration",
                    "Dimensions": dims,
                    "Value": duration_s,
                    "Unit": "Seconds",
                },
                {
                    "MetricName": "DeploymentSucceeded",
                    "Dimensions": dims,
                    "Value": 1.0 if succeeded else 0.0,
                    "Unit": "Count",
                },
                {
                    "MetricName": "DeploymentRollbacks",
                    "Dimensions": dims,
                    "Value": 1.0 if rolled_back else 0.0,
                    "Unit": "Count",
                },
            ],
        )
        return True
    except Exception as exc:  # noqa: BLE001 - must not mask the deployment result
        log.warning("could not put deployment metrics for %s: %s", stack, exc)
        return False


def notify(
    topic_arn: str | None,
    subject: str,
    payload: dict[str, Any],
    client: Any = None,
    aws_env: Mapping[str, str] | None = None,
) -> bool:
    """Publish a JSON notice to the alarm topic (the on-call's inbox)."""
    if not topic_arn:
        log.warning("no alarm topic to notify: %s", subject)
        return False
    try:
        client = client or make_client("sns", aws_env)
        client.publish(
            TopicArn=topic_arn,
            Subject=subject[:100],
            Message=json.dumps(payload, indent=2, default=str),
        )
        return True
    except Exception as exc:  # noqa: BLE001 - must not mask the deployment result
        log.warning("could not publish %r to %s: %s", subject, topic_arn, exc)
        return False


#: The team event each run outcome announces.
EVENT_OF_STATUS: dict[RunStatus, str] = {
    RunStatus.SUCCEEDED: "succeeded",
    RunStatus.FAILED: "failed",
    RunStatus.NOT_RECOVERED: "failed",
    RunStatus.NOTHING_TO_ROLL_BACK: "failed",
    RunStatus.ROLLED_BACK: "rolled_back",
    RunStatus.BLOCKED: "blocked",
    RunStatus.INTERRUPTED: "interrupted",
}
ICONS = {
    "started": "🚀",
    "succeeded": "✅",
    "failed": "❌",
    "rolled_back": "↩️",
    "blocked": "⏸️",
    "interrupted": "⏹️",
}
#: Seconds one channel may take: a slow webhook must not hold a deployment (or its cancel).
SEND_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RunFacts:
    """What a team message says about one run."""

    stack: str
    version: str
    commit: str
    actor: str
    outcome: str
    reason: str
    duration_s: float | None
    link: str


def run_link(run_dir: str | None, env: Mapping[str, str] | None = None) -> str:
    """The run's report: its GitHub Actions run page when in Actions, else its report folder."""
    env = os.environ if env is None else env
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL") or "https://github.com"
        return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return str(run_dir or "")


def team_message(event: str, facts: RunFacts) -> tuple[str, str]:
    """(title, body): one line of outcome and reason, then the facts, one per line."""
    reason = " ".join(facts.reason.split())  # one line, whatever the message held
    title = f"{ICONS.get(event, '')} {facts.stack}: {facts.outcome}".strip()
    duration = "-" if facts.duration_s is None else f"{facts.duration_s:.0f} s"
    body = "\n".join(
        [
            f"{facts.outcome}: {reason}" if reason else facts.outcome,
            f"stack: {facts.stack}",
            f"version: {facts.version or '-'}",
            f"commit: {facts.commit[:12] or '-'}",
            f"actor: {facts.actor or '-'}",
            f"duration: {duration}",
            f"report: {facts.link or '-'}",
        ]
    )
    return title, body


def _scrub(text: str, urls: Sequence[str]) -> str:
    for url in urls:
        text = text.replace(url, "[secret]")
    return text


class TeamNotifier:
    """Sends the configured events of one stack's runs to its channels.

    `urls` is called once, at the first message (decrypting a Pulumi secret costs a CLI call);
    when it fails, or a channel refuses, the problem is logged without any URL.
    """

    def __init__(
        self, events: Sequence[str], urls: Callable[[], Sequence[str]], *, timeout_s: float = 0
    ) -> None:
        unknown = set(events) - set(NOTIFY_EVENTS)
        if unknown:
            raise ValueError(f"unknown notification events {sorted(unknown)}")
        self.events = frozenset(events)
        self._resolve = urls
        self._urls: list[str] | None = None
        self.timeout_s = timeout_s or SEND_TIMEOUT_S
        self.sent: list[str] = []  # the events delivered (every channel took them)

    def urls(self) -> list[str]:
        if self._urls is None:
            try:
                self._urls = [u for u in self._resolve() if u]
            except PipelineError as exc:  # ours: says what is wrong, holds no URL
                log.warning("team notifications off for this run: %s", exc)
                self._urls = []
            except Exception as exc:  # noqa: BLE001 - a notification never fails a run
                log.warning("team notifications off for this run: %s", type(exc).__name__)
                self._urls = []
        return self._urls

    def send(self, event: str, facts: RunFacts) -> bool:
        """Send `event` if configured; False when skipped or a channel failed (logged)."""
        if event not in self.events or not self.urls():
            return False
        urls = self.urls()
        title, body = team_message(event, facts)
        title, body = _scrub(title, urls), _scrub(body, urls)
        try:
            # lazy import: apprise costs 0.23 s at start-up of every `python -m automation`
            # command; only a run with channels configured sends anything
            import apprise

            with _quiet_apprise():
                hub = apprise.Apprise()
                added = sum(1 for url in urls if hub.add(url))
                delivered = bool(hub.notify(body=body, title=title, timeout=self.timeout_s))
            if added < len(urls):
                log.warning(
                    "%d of %d notification URLs are not Apprise URLs", len(urls) - added, len(urls)
                )
                delivered = False
        except Exception as exc:  # noqa: BLE001 - a notification never fails a run
            log.warning("could not send the %s notification: %s", event, type(exc).__name__)
            return False
        if not delivered:
            log.warning("the %s notification did not reach every channel (%d)", event, len(urls))
            return False
        self.sent.append(event)
        return True


class _quiet_apprise:  # noqa: N801 - used as a context manager
    """Apprise and urllib3 log the endpoints they post to (the token in the path); ours say
    what failed without them. Their loggers are silenced for the duration of a send."""

    LOGGERS = ("apprise", "urllib3")

    def __enter__(self) -> None:
        self.saved = []
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            self.saved.append((logger, logger.level, logger.propagate))
            logger.setLevel(logging.CRITICAL + 1)
            logger.propagate = False

    def __exit__(self, *exc: object) -> None:
        for logger, level, propagate in self.saved:
            logger.setLevel(level)
            logger.propagate = propagate
