"""What parsing a stack's config produces: the typed `StackConfig` and its errors.

Each attribute here is filled from one row of the table in `keys.py` (the row's `field`);
tests/program/test_config.py keeps the two in step, default values included.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components.capacity import default_load_test

PROJECT = "passport-photo-backend"
"""The Pulumi project name and the config namespace of every project key."""
REGION_KEY = "aws:region"
ENVIRONMENT_KEY = "environment"
#: The EB platform, pinned (not "newest at every run"): a platform change is a reviewed config
#: change, and `check` reports when a newer one of the same branch exists.
DEFAULT_SOLUTION_STACK = "64bit Amazon Linux 2023 v4.6.0 running Python 3.11"


@dataclass(frozen=True)
class AbuseConfig:
    """The public API's abuse controls (issue 12, docs/threat-model.md)."""

    public_base_url: str = "http://localhost"
    allowed_hosts: tuple[str, ...] = ()
    email_resend_cooldown_s: int = 60
    email_daily_cap: int = 5
    waf_rate_limit: int = 0
    """0 = no WAF (dev); otherwise the rate-based rule's limit per IP per 5 minutes."""
    analytics_retention_days: int = 90
    rate_limit_exempt_cidrs: tuple[str, ...] = ()
    """Trusted load generators (IPv4 CIDRs) that neither the app's limits nor the WAF count."""

    @property
    def public_host(self) -> str:
        return self.public_base_url.split("://", 1)[1].split(":", 1)[0]


@dataclass(frozen=True)
class CanaryConfig:
    """The canary deployment (issue 22, docs/canary.md): the `canary` key, checked.

    With `enabled`, a TrafficSplitting deploy sends `new_version_percent` of the requests to the
    new version for `evaluation_minutes` while the judge (automation/canary/) compares it with
    the old one; after promotion the stack's alarms are watched for `bake_minutes`.
    """

    enabled: bool = False
    new_version_percent: int = 50
    """EB's NewVersionPercent (1..100; 45..55 while enabled: docs/canary.md)."""
    evaluation_minutes: int = 10
    """EB's EvaluationTime (3..600 minutes)."""
    bake_minutes: int = 10
    """How long the alarms are watched after promotion (0: no bake)."""
    synthetic_load: bool = False
    """Drive the Locust plan during the window so both versions get enough samples."""
    effect_sizes: Mapping[str, float] = field(default_factory=dict)
    """Per-metric overrides of the judge's allowed effects (rates: percentage points; latency:
    relative). Metrics not named keep the judge's defaults."""
    pass_score: float = 95.0
    marginal_score: float = 75.0


@dataclass(frozen=True)
class NotificationTargets:
    """Where team notifications go (the `notifications` key: Apprise URLs, a Pulumi secret).

    `encrypted`: the stack file holds the list encrypted (`{secure: …}`); the automation asks
    the Pulumi CLI for it at run time. `urls` is then empty here.
    """

    urls: tuple[str, ...] = ()
    encrypted: bool = False

    def __repr__(self) -> str:  # never the URLs: they carry the channels' tokens
        return f"NotificationTargets({len(self.urls)} urls, encrypted={self.encrypted})"


@dataclass(frozen=True)
class StackConfig:
    """Everything the components need, already checked; built only by `parse_stack_config`."""

    stack: str
    region: str
    instance_type: str
    min_instances: int
    max_instances: int
    deployment_policy: str
    sender_email: str
    alarm_email: str | None
    cors_allowed_origins: tuple[str, ...]
    log_retention_days: int
    background_removal_model: str
    self_contained_bundle: bool
    max_upload_mb: int
    latency_budget_ms: int
    photo_retention_days: int
    deletion_protection: bool
    tags: Mapping[str, str] = field(default_factory=dict)
    """A plain dict (copyable, JSON-able); treat it as read-only like the rest."""
    abuse: AbuseConfig = field(default_factory=lambda: AbuseConfig())
    """The public API's abuse controls (issue 12, docs/threat-model.md)."""
    load_test: Mapping[str, Any] = field(default_factory=lambda: default_load_test())
    """The `load` check's plan and thresholds (components/capacity.py)."""
    canary: CanaryConfig = field(default_factory=lambda: CanaryConfig())
    """The canary deployment and its judge's settings (issue 22, docs/canary.md)."""
    notifications: NotificationTargets = field(default_factory=lambda: NotificationTargets())
    """Team channels (Apprise URLs) the pipeline's messages go to (issue 24)."""
    notify_on: tuple[str, ...] = ("failed", "rolled_back", "blocked", "interrupted")
    """The events that are sent (components/config/rules_notifications.py NOTIFY_EVENTS)."""

    @property
    def project(self) -> str:
        return PROJECT

    environment: str = "dev"
    """dev, staging or prod: which rule set applies (the `environment` key)."""
    solution_stack: str = DEFAULT_SOLUTION_STACK
    deploy_timeout_minutes: int = 25
    sender_domain: str | None = None
    """SES domain identity with Easy DKIM (senderEmail must be in it)."""
    route53_zone_id: str | None = None
    """The sender domain's hosted zone: the DKIM records are created there."""
    certificate_arn: str | None = None
    """ACM certificate of the HTTPS listener (api_url is then https://)."""
    allow_insecure_http: bool = False
    vpc_id: str | None = None
    subnets: tuple[str, ...] = ()
    """The instances' subnets (aws:ec2:vpc Subnets)."""
    elb_subnets: tuple[str, ...] = ()
    """The load balancer's subnets (aws:ec2:vpc ELBSubnets): public ones for a public ALB."""
    associate_public_ip_address: bool = False
    """Public IPs on the instances: only in public subnets (no NAT there)."""
    elb_scheme: str = "public"
    """public (internet-facing ALB) or internal."""

    @property
    def tier(self) -> str:
        return self.environment


@dataclass(frozen=True)
class ConfigIssue:
    """One rule broken: which key(s), what was found, what would be accepted."""

    keys: tuple[str, ...]
    got: str
    allowed: str

    def __str__(self) -> str:
        return f"{', '.join(self.keys)}: got {self.got}; allowed {self.allowed}"


class StackConfigError(ValueError):
    """Raised with every broken rule listed, one `key: got <value>; allowed <...>` per line."""

    def __init__(self, stack: str, issues: list[ConfigIssue]) -> None:
        self.stack = stack
        self.issues = tuple(issues)
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        noun = "problem" if len(self.issues) == 1 else "problems"
        super().__init__(
            f"invalid stack config for stack '{stack}' ({len(self.issues)} {noun}):\n{lines}"
        )

    @property
    def keys(self) -> set[str]:
        return {key for issue in self.issues for key in issue.keys}
