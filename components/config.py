"""Typed, validated stack configuration.

`parse_stack_config` is pure (no Pulumi runtime needed) so the same rules run in unit and
property tests, in the automation `check` stage (straight from a `Pulumi.<stack>.yaml`), and in
the program itself through `load_stack_config`. Every problem is collected and reported at once:
a deploy that fails on the first typo, then on the second, wastes a pipeline run per key.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from email_validator import EmailNotValidError, validate_email

from components.capacity import default_load_test, instance_fits, parse_load_test

PROJECT = "passport-photo-backend"
"""The Pulumi project name and the config namespace of every project key."""

REGION_KEY = "aws:region"
ENVIRONMENT_KEY = "environment"
ENVIRONMENTS = ("dev", "staging", "prod")
"""Rule sets (sizing, CORS, protection): chosen by the `environment` key, not by the stack name,
so any `Pulumi.<name>.yaml` (a `pr-123` review stack, `prod-eu`) is a valid stack."""

#: Namespaces a stack file may use; anything else is a typo (did-you-mean) or a foreign provider.
KNOWN_NAMESPACES = (PROJECT, "aws", "pulumi")
#: The aws provider's config keys (pulumi_aws 7.x, pulumi_aws/config/vars.py; a test keeps this
#: list equal to the installed SDK's).
AWS_PROVIDER_KEYS = (
    "accessKey",
    "allowedAccountIds",
    "assumeRoleWithWebIdentity",
    "assumeRoles",
    "customCaBundle",
    "defaultTags",
    "ec2MetadataServiceEndpoint",
    "ec2MetadataServiceEndpointMode",
    "endpoints",
    "forbiddenAccountIds",
    "httpProxy",
    "httpsProxy",
    "ignoreTags",
    "insecure",
    "maxRetries",
    "noProxy",
    "profile",
    "region",
    "retryMode",
    "s3UsEast1RegionalEndpoint",
    "s3UsePathStyle",
    "secretKey",
    "sharedConfigFiles",
    "sharedCredentialsFiles",
    "skipCredentialsValidation",
    "skipMetadataApiCheck",
    "skipRegionValidation",
    "skipRequestingAccountId",
    "stsRegion",
    "tagPolicyCompliance",
    "token",
    "tokenBucketRateLimiterCapacity",
    "useDualstackEndpoint",
    "useFipsEndpoint",
    "userAgents",
)


@functools.cache
def known_regions() -> tuple[str, ...]:
    """Every region of every AWS partition botocore knows (its bundled endpoints data).

    Cached: reading botocore's endpoints.json took ~26 ms, most of each config parse.
    """
    import botocore.loaders

    data = botocore.loaders.create_loader().load_data("endpoints")
    return tuple(sorted(r for p in data["partitions"] for r in p["regions"]))


DEPLOYMENT_POLICIES = (
    "AllAtOnce",
    "Rolling",
    "RollingWithAdditionalBatch",
    "Immutable",
    "TrafficSplitting",
)
MODELS = ("u2netp", "u2net")
# CloudWatch Logs PutRetentionPolicy accepts only these (EB's RetentionInDays option too).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
#: The EB platform, pinned (not "newest at every run"): a platform change is a reviewed config
#: change, and `check` reports when a newer one of the same branch exists.
DEFAULT_SOLUTION_STACK = "64bit Amazon Linux 2023 v4.6.0 running Python 3.11"
SOLUTION_STACK_RE = re.compile(r"^64bit Amazon Linux 2023 v\d+\.\d+\.\d+ running Python 3\.11$")
#: How long `pulumi up` waits for the environment to be Ready (Terraform's default is 20m): an
#: Immutable prod deploy launches fresh instances and installs the ML stack on each.
DEFAULT_DEPLOY_TIMEOUT_MINUTES = {"dev": 25, "staging": 40, "prod": 60}
DEPLOY_TIMEOUT_RANGE = (10, 180)
INSTANCES_RANGE = (1, 20)
PROD_MIN_INSTANCES = 2
MAX_UPLOAD_MB_RANGE = (1, 50)
LATENCY_BUDGET_MS_RANGE = (100, 60_000)
PHOTO_RETENTION_DAYS_RANGE = (1, 365)
RESERVED_TAG_KEYS = ("project", "stack", "managed-by")
# AWS allows 50 tags per resource; EB and CloudFormation add their own (elasticbeanstalk:*, aws:*).
MAX_EXTRA_TAGS = 40

_REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
_INSTANCE_TYPE_RE = re.compile(
    r"^[a-z][a-z0-9-]*\d[a-z0-9-]*\.(\d*(nano|micro|small|medium|large|xlarge)|metal(-\d+xl)?)$"
)
_HOST_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TAG_KEY_RE = re.compile(r"^[\w .:/=+\-@]{1,128}$")
_TAG_VALUE_RE = re.compile(r"^[\w .:/=+\-@]{0,256}$")
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1")


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


def stack_tier(stack: str) -> str:
    """The rule set a stack's *name* suggests: 'prod', 'staging' or 'dev'.

    Not what decides the rules (the `environment` key does); used only to refuse a stack whose
    name says prod or staging but whose `environment` says otherwise, so a second production
    stack cannot slip past the prod checks by a missing or wrong key.
    """
    lowered = stack.lower()
    for tier, names in (("prod", ("prod", "production")), ("staging", ("staging", "stage"))):
        if lowered in names or any(lowered.startswith(f"{n}-") for n in names):
            return tier
    return "dev"


# --- Abuse resistance (issue 12): public URL, host names, email quota, WAF, analytics TTL ---

ABUSE_KEYS = (
    "publicBaseUrl",
    "allowedHosts",
    "emailResendCooldownSeconds",
    "emailDailyCap",
    "wafRateLimit",
    "analyticsRetentionDays",
    "rateLimitExemptCidrs",
)
EMAIL_COOLDOWN_RANGE = (30, 3600)
EMAIL_DAILY_CAP_RANGE = (1, 20)
WAF_RATE_LIMIT_RANGE = (100, 2_000_000_000)  # AWS's bounds are 10..2e9; below 100 is a typo
ANALYTICS_RETENTION_DAYS_RANGE = (1, 3650)
DEFAULT_WAF_RATE_LIMIT = 1000
"""Requests per client IP per 5 minutes before the WAF blocks it (staging/prod default)."""
_HOST_ENTRY_RE = re.compile(r"^\.?(?!-)[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})*$")


@dataclass(frozen=True)
class AbuseConfig:
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


def _check_abuse(c: _Collector, tier: str) -> AbuseConfig:
    url_allowed = "an https://host[:port] URL with no path (http://localhost only in dev)"
    url = c.string("publicBaseUrl", "http://localhost" if tier == "dev" else _REQUIRED, url_allowed)
    if url is not None:
        url = url.rstrip("/")
        why = origin_problem(url, tier) if url != "*" else "not a URL"
        if why is not None:
            c.add("publicBaseUrl", _show(url), f"{url_allowed} ({why})")
            url = None
    hosts_allowed = "a list of lowercase host names, or .suffix entries for subdomains"
    hosts = c.get("allowedHosts", [], hosts_allowed, _to_str_list)
    if hosts is not None and not all(_HOST_ENTRY_RE.match(h) for h in hosts):
        c.add("allowedHosts", _show(hosts), hosts_allowed)
        hosts = None
    default_waf = 0 if tier == "dev" else DEFAULT_WAF_RATE_LIMIT
    waf = c.get("wafRateLimit", default_waf, "0 (off, dev only) or 100..2000000000", _to_int)
    if (
        waf is not None
        and not (waf == 0 and tier == "dev")
        and not (WAF_RATE_LIMIT_RANGE[0] <= waf <= WAF_RATE_LIMIT_RANGE[1])
    ):
        allowed = "an integer from 100 to 2000000000 (requests per IP per 5 minutes)"
        c.add(
            "wafRateLimit", _show(waf), allowed + ("" if tier == "dev" else f"; required in {tier}")
        )
        waf = None
    cooldown = c.integer("emailResendCooldownSeconds", 60, EMAIL_COOLDOWN_RANGE)
    cap = c.integer("emailDailyCap", 5, EMAIL_DAILY_CAP_RANGE)
    retention = c.integer("analyticsRetentionDays", 90, ANALYTICS_RETENTION_DAYS_RANGE)
    exempt = _check_exempt_cidrs(c)
    if None in (url, hosts, waf, cooldown, cap, retention, exempt):
        return AbuseConfig()  # the collector holds the issues; parse_stack_config raises
    return AbuseConfig(url, tuple(hosts), cooldown, cap, waf, retention, exempt)


MIN_EXEMPT_PREFIX = 24
"""An exemption names load-generator machines, not whole networks (a /8 would exempt anyone)."""


def _check_exempt_cidrs(c: _Collector) -> tuple[str, ...] | None:
    """rateLimitExemptCidrs: where the `load` check runs from (a load test from one machine is
    one client: unexempted, it measures the limiter, not the service)."""
    import ipaddress

    allowed = f"a list of IPv4 CIDRs of /{MIN_EXEMPT_PREFIX} or narrower (the load generators)"
    raw = c.get("rateLimitExemptCidrs", [], allowed, _to_str_list)
    if raw is None:
        return None
    networks = []
    for item in raw:
        try:
            network = ipaddress.IPv4Network(item)
        except ValueError:
            c.add("rateLimitExemptCidrs", _show(item), allowed)
            return None
        if network.prefixlen < MIN_EXEMPT_PREFIX:
            c.add("rateLimitExemptCidrs", _show(item), allowed + " (too broad)")
            return None
        networks.append(str(network))
    return tuple(networks)


# The keys a stack file may set in the project namespace, in documentation order.
PROJECT_KEYS = (
    ENVIRONMENT_KEY,
    "instanceType",
    "minInstances",
    "maxInstances",
    "deploymentPolicy",
    "senderEmail",
    "alarmEmail",
    "corsAllowedOrigins",
    "logRetentionDays",
    "backgroundRemovalModel",
    "maxUploadMb",
    "latencyBudgetMs",
    "photoRetentionDays",
    "deletionProtection",
    "tags",
    "solutionStack",
    "deployTimeoutMinutes",
    "senderDomain",
    "route53ZoneId",
    "certificateArn",
    "allowInsecureHttp",
    "vpcId",
    "subnets",
    *ABUSE_KEYS,
    "loadTest",
)

DEFAULT_DEPLOYMENT_POLICY = {
    "dev": "AllAtOnce",
    "staging": "RollingWithAdditionalBatch",
    "prod": "Immutable",
}


def _show(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


class _Collector:
    """Reads raw values with type coercion, recording an issue instead of raising."""

    def __init__(self) -> None:
        self.raw: Mapping[str, Any] = {}
        self.issues: list[ConfigIssue] = []

    def add(self, keys: str | tuple[str, ...], got: str, allowed: str) -> None:
        self.issues.append(ConfigIssue((keys,) if isinstance(keys, str) else keys, got, allowed))

    def get(self, key: str, default: Any, what: str, coerce: Callable[[Any], Any]) -> Any:
        if key not in self.raw or self.raw[key] is None:
            if default is _REQUIRED:
                self.add(key, "nothing (the key is required)", what)
            return None if default is _REQUIRED else default
        value = self.raw[key]
        try:
            return coerce(value)
        except (TypeError, ValueError):
            self.add(key, _show(value), what)
            return None

    def integer(self, key: str, default: Any, bounds: tuple[int, int]) -> int | None:
        low, high = bounds
        allowed = f"an integer from {low} to {high}"
        value = self.get(key, default, allowed, _to_int)
        if value is not None and not low <= value <= high:
            self.add(key, _show(value), allowed)
            return None
        return value

    def boolean(self, key: str, default: Any) -> bool | None:
        return self.get(key, default, "true or false", _to_bool)

    def string(self, key: str, default: Any, what: str) -> str | None:
        return self.get(key, default, what, _to_str)

    def choice(self, key: str, default: Any, choices: tuple[Any, ...]) -> Any:
        allowed = "one of " + ", ".join(str(c) for c in choices)
        coerce = _to_int if isinstance(choices[0], int) else _to_str
        value = self.get(key, default, allowed, coerce)
        if value is not None and value not in choices:
            self.add(key, _show(value), allowed)
            return None
        return value

    def email(self, key: str, default: Any) -> str | None:
        allowed = "a valid email address such as noreply@example.com"
        value = self.string(key, default, allowed)
        if value is None:
            return None
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            self.add(key, _show(value), f"{allowed} ({exc})")
            return None


class _Required:
    def __repr__(self) -> str:
        return "<required>"


_REQUIRED: Any = _Required()


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("bool is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise ValueError(value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(value)


def _to_str(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ValueError(value)


def _json_if_str(value: Any) -> Any:
    # Pulumi hands structured config (lists, maps) to programs as JSON text.
    if isinstance(value, str):
        return json.loads(value)
    return value


def _to_str_list(value: Any) -> list[str]:
    value = _json_if_str(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ValueError(value)


def _to_str_map(value: Any) -> dict[str, str]:
    value = _json_if_str(value)
    if not isinstance(value, dict):
        raise ValueError(value)
    result = {}
    for key, item in value.items():
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise ValueError(value)
        result[str(key)] = str(item)
    return result


def origin_problem(origin: str, tier: str) -> str | None:
    """Why one CORS origin is unacceptable for a tier, or None if it is fine.

    Browsers send origins as scheme://host[:port] with no path and no trailing slash; anything
    else never matches, so it is a mistake worth stopping on rather than a silent CORS failure.
    """
    if origin == "*":
        return None if tier == "dev" else f"'*' is not allowed in {tier} stacks"
    match = re.fullmatch(r"(https?)://([^/:]+)(?::(\d{1,5}))?", origin)
    if not match:
        return "an origin is scheme://host[:port] with no path or trailing slash"
    scheme, host, port = match.groups()
    if port is not None and not 1 <= int(port) <= 65535:
        return "port must be 1..65535"
    if host != host.lower():
        return "host must be lowercase"
    if scheme == "http":
        if host not in _LOOPBACK_HOSTS:
            return "plain http is only allowed for localhost"
        if tier == "prod":
            return "localhost origins are not allowed in prod stacks"
        return None
    labels = host.split(".")
    if len(labels) < 2 or not all(_HOST_LABEL_RE.match(label) for label in labels):
        return "host must be a DNS name such as app.example.com"
    return None


def _check_cors(c: _Collector, tier: str) -> tuple[str, ...]:
    allowed = (
        "a list of https://host[:port] or http://localhost[:port] origins"
        + ("" if tier == "dev" else f", no '*' in {tier}")
        + (", no localhost in prod" if tier == "prod" else "")
    )
    origins = c.get("corsAllowedOrigins", [], allowed, _to_str_list)
    if origins is None:
        return ()
    problems = [f"{o!r}: {why}" for o in origins if (why := origin_problem(o, tier)) is not None]
    duplicates = sorted({o for o in origins if origins.count(o) > 1})
    if duplicates:
        problems.append(f"duplicates {duplicates}")
    if problems:
        c.add("corsAllowedOrigins", _show(origins), f"{allowed} ({'; '.join(problems)})")
        return ()
    return tuple(origins)


def _check_tags(c: _Collector) -> dict[str, str]:
    allowed = (
        f"a map of at most {MAX_EXTRA_TAGS} string tags (keys 1-128 and values 0-256 of letters, "
        f"digits, spaces and _.:/=+-@; no 'aws:' prefix; not {', '.join(RESERVED_TAG_KEYS)})"
    )
    tags = c.get("tags", {}, allowed, _to_str_map)
    if tags is None:
        return {}
    bad = [
        k
        for k, v in tags.items()
        if not _TAG_KEY_RE.match(k)
        or k.lower().startswith("aws:")
        or k in RESERVED_TAG_KEYS
        or not _TAG_VALUE_RE.match(v)
    ]
    if bad or len(tags) > MAX_EXTRA_TAGS:
        detail = f"bad keys {bad}" if bad else f"{len(tags)} tags"
        c.add("tags", _show(tags), f"{allowed} ({detail})")
        return {}
    return dict(tags)


def _did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str:
    near = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {near[0]}?)" if near else ""


def _foreign_key_ok(full_key: str, value: Any, c: _Collector) -> None:
    """A key outside our namespace: the aws provider's keys and pulumi's are fine; typos not."""
    namespace, _, key = full_key.partition(":")
    if namespace == "aws":
        if key not in AWS_PROVIDER_KEYS:
            near = _did_you_mean(f"aws:{key}", [f"aws:{k}" for k in AWS_PROVIDER_KEYS])
            c.add(full_key, _show(value), f"a key of the aws provider{near}")
    elif namespace != "pulumi":
        close = difflib.get_close_matches(namespace, list(KNOWN_NAMESPACES), n=1)
        near = f" (did you mean {close[0]}:{key}?)" if close else ""
        c.add(
            full_key,
            _show(value),
            f"keys in the namespaces {', '.join(KNOWN_NAMESPACES)}{near}",
        )


def _split_keys(raw: Mapping[str, Any], c: _Collector) -> dict[str, Any]:
    """Flatten `project:key` / bare `key` into one namespace; flag unknown keys and namespaces."""
    flat: dict[str, Any] = {}
    prefix = f"{PROJECT}:"
    for full_key, value in raw.items():
        if full_key == REGION_KEY:
            flat[REGION_KEY] = value
            continue
        if full_key.startswith(prefix):
            key = full_key[len(prefix) :]
        elif ":" in full_key:
            _foreign_key_ok(full_key, value, c)
            continue
        else:
            key = full_key
        if key not in PROJECT_KEYS:
            near = difflib.get_close_matches(key, PROJECT_KEYS, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            c.add(key, _show(value), f"only the documented keys {', '.join(PROJECT_KEYS)}{hint}")
            continue
        flat[key] = value
    return flat


def parse_stack_config(stack: str, raw: Mapping[str, Any]) -> StackConfig:
    """Validate a stack's raw config (YAML values or Pulumi's strings) into a StackConfig.

    `raw` uses the stack-file keys: `aws:region` and `passport-photo-backend:<key>` (bare
    `<key>` is accepted too). Raises StackConfigError listing every problem.
    """
    c = _Collector()
    c.raw = _split_keys(raw, c)
    tier = _check_environment(stack, c)

    region = c.string(REGION_KEY, _REQUIRED, "an AWS region name such as us-east-1")
    if region is not None and not _REGION_RE.match(region):
        c.add(REGION_KEY, _show(region), "an AWS region name such as us-east-1")
        region = None
    if region is not None and region not in known_regions():
        c.add(
            REGION_KEY,
            _show(region),
            f"an existing AWS region{_did_you_mean(region, known_regions())}",
        )
        region = None

    instance_type = c.string("instanceType", "t3.small", "an EC2 instance type such as t3.small")
    if instance_type is not None and not _INSTANCE_TYPE_RE.match(instance_type):
        c.add("instanceType", _show(instance_type), "an EC2 instance type such as t3.small")
        instance_type = None

    default_min = PROD_MIN_INSTANCES if tier == "prod" else 1
    min_instances = c.integer("minInstances", default_min, INSTANCES_RANGE)
    max_default = min_instances if min_instances is not None else default_min
    max_instances = c.integer("maxInstances", max_default, INSTANCES_RANGE)
    if min_instances is not None and max_instances is not None and min_instances > max_instances:
        c.add(
            ("minInstances", "maxInstances"),
            f"minInstances={min_instances}, maxInstances={max_instances}",
            "minInstances <= maxInstances",
        )
    if tier == "prod" and min_instances is not None and min_instances < PROD_MIN_INSTANCES:
        c.add(
            "minInstances",
            _show(min_instances),
            f"at least {PROD_MIN_INSTANCES} in prod (one instance is a single point of failure)",
        )

    policy = c.choice("deploymentPolicy", DEFAULT_DEPLOYMENT_POLICY[tier], DEPLOYMENT_POLICIES)
    if tier == "prod" and policy == "AllAtOnce":
        c.add(
            "deploymentPolicy",
            _show(policy),
            "one of "
            + ", ".join(p for p in DEPLOYMENT_POLICIES if p != "AllAtOnce")
            + " in prod (AllAtOnce takes every instance down at once)",
        )

    sender_email = c.email("senderEmail", _REQUIRED)
    alarm_email = c.email("alarmEmail", None)
    if tier == "prod" and c.raw.get("alarmEmail") is None:
        c.add("alarmEmail", "nothing", "an address that receives prod alarms (required in prod)")

    cors = _check_cors(c, tier)
    log_retention = c.choice("logRetentionDays", 30, LOG_RETENTION_DAYS)
    model = c.choice("backgroundRemovalModel", "u2netp", MODELS)
    max_upload_mb = c.integer("maxUploadMb", 10, MAX_UPLOAD_MB_RANGE)
    latency_budget = c.integer("latencyBudgetMs", 3000, LATENCY_BUDGET_MS_RANGE)
    photo_retention = c.integer("photoRetentionDays", 7, PHOTO_RETENTION_DAYS_RANGE)
    deletion_protection = c.boolean("deletionProtection", tier == "prod")
    tags = _check_tags(c)
    solution_stack = c.string(
        "solutionStack", DEFAULT_SOLUTION_STACK, "an Amazon Linux 2023 Python 3.11 EB platform"
    )
    if solution_stack is not None and not SOLUTION_STACK_RE.match(solution_stack):
        c.add(
            "solutionStack",
            _show(solution_stack),
            f"an Amazon Linux 2023 Python 3.11 EB platform such as {DEFAULT_SOLUTION_STACK!r} "
            "(the app is tested on Python 3.11)",
        )
    deploy_timeout = c.integer(
        "deployTimeoutMinutes",
        DEFAULT_DEPLOY_TIMEOUT_MINUTES.get(tier, 25),
        DEPLOY_TIMEOUT_RANGE,
    )

    sender_domain, zone_id = _check_sender_domain(c, sender_email)
    certificate, insecure = _check_https(c, tier, region)
    vpc_id, subnets = _check_vpc(c)
    abuse = _check_abuse(c, tier)
    if certificate and abuse.public_base_url.startswith("http://"):
        # The app redirects HTTP to https://<publicBaseUrl's host> (FORCE_HTTPS).
        c.add(
            ("certificateArn", "publicBaseUrl"),
            _show(abuse.public_base_url),
            "an https:// publicBaseUrl when certificateArn is set (HTTP is redirected to it)",
        )
    load_test = _check_capacity(c, instance_type, model)

    if c.issues:
        raise StackConfigError(stack, c.issues)
    return StackConfig(
        stack=stack,
        region=region,
        instance_type=instance_type,
        min_instances=min_instances,
        max_instances=max_instances,
        deployment_policy=policy,
        sender_email=sender_email,
        alarm_email=alarm_email,
        cors_allowed_origins=cors,
        log_retention_days=log_retention,
        background_removal_model=model,
        max_upload_mb=max_upload_mb,
        latency_budget_ms=latency_budget,
        photo_retention_days=photo_retention,
        deletion_protection=deletion_protection,
        tags=tags,
        environment=tier,
        solution_stack=solution_stack,
        deploy_timeout_minutes=deploy_timeout,
        sender_domain=sender_domain,
        route53_zone_id=zone_id,
        certificate_arn=certificate,
        allow_insecure_http=bool(insecure),
        vpc_id=vpc_id,
        subnets=subnets,
        abuse=abuse,
        load_test=load_test,
    )


def _check_https(c: _Collector, tier: str, region: str | None) -> tuple[str | None, bool | None]:
    """certificateArn (ACM, the stack's region); staging/prod need it or allowInsecureHttp."""
    allowed = "an ACM certificate ARN in the stack's region (arn:aws:acm:<region>:<account>:...)"
    arn = c.string("certificateArn", None, allowed)
    match = arn and re.fullmatch(r"arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate/[\w-]+", arn)
    if arn is not None and (not match or (region and match.group(1) != region)):
        c.add("certificateArn", _show(arn), allowed)
        arn = None
    insecure = c.boolean("allowInsecureHttp", False)
    if tier != "dev" and arn is None and insecure is False and "certificateArn" not in c.raw:
        c.add(
            ("certificateArn", "allowInsecureHttp"),
            "neither",
            f"a certificateArn in {tier} (HTTPS), or allowInsecureHttp: true to serve plain "
            "HTTP knowingly",
        )
    return arn, insecure


def _check_vpc(c: _Collector) -> tuple[str | None, tuple[str, ...]]:
    """Optional vpcId + subnets (at least two, for the load balancer's AZs); else default VPC."""
    vpc = c.string("vpcId", None, "a VPC id such as vpc-0123456789abcdef0")
    if vpc is not None and not re.fullmatch(r"vpc-[0-9a-f]{8,17}", vpc):
        c.add("vpcId", _show(vpc), "a VPC id such as vpc-0123456789abcdef0")
        vpc = None
    allowed = "a list of at least 2 subnet ids (subnet-...) in different AZs of vpcId"
    subnets = c.get("subnets", [], allowed, _to_str_list)
    if subnets and (
        len(subnets) < 2 or not all(re.fullmatch(r"subnet-[0-9a-f]{8,17}", s) for s in subnets)
    ):
        c.add("subnets", _show(subnets), allowed)
        subnets = []
    if ("vpcId" in c.raw) != ("subnets" in c.raw):
        c.add(
            ("vpcId", "subnets"),
            f"vpcId={vpc}, subnets={subnets}",
            "both, or neither (the environment then goes into the region's default VPC)",
        )
    return vpc, tuple(subnets or ())


def _check_sender_domain(c: _Collector, sender_email: str | None) -> tuple[str | None, str | None]:
    """senderDomain: a DNS name holding senderEmail; route53ZoneId: a hosted zone id."""
    allowed = "a domain name such as passportphoto.example.com"
    domain = c.string("senderDomain", None, allowed)
    if domain is not None:
        labels = domain.split(".")
        if len(labels) < 2 or not all(_HOST_LABEL_RE.match(label) for label in labels):
            c.add("senderDomain", _show(domain), allowed)
            domain = None
        elif sender_email and not sender_email.lower().endswith("@" + domain.lower()):
            c.add(
                ("senderDomain", "senderEmail"),
                f"senderDomain={domain}, senderEmail={sender_email}",
                "senderEmail at the sender domain (SES sends as addresses of a domain identity)",
            )
    zone_allowed = "a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ (needs senderDomain)"
    zone = c.string("route53ZoneId", None, zone_allowed)
    if zone is not None and (not re.fullmatch(r"Z[A-Z0-9]{1,31}", zone) or not domain):
        c.add("route53ZoneId", _show(zone), zone_allowed)
        zone = None
    return domain, zone


def _check_environment(stack: str, c: _Collector) -> str:
    """The `environment` key (required): the rule set; a prod/staging-named stack must match it."""
    env = c.choice(ENVIRONMENT_KEY, _REQUIRED, ENVIRONMENTS)
    named = stack_tier(stack)
    if env is not None and named != "dev" and env != named:
        c.add(
            ENVIRONMENT_KEY,
            _show(env),
            f"{named} for stack '{stack}' (its name says {named}; rename the stack to run "
            f"{env} rules)",
        )
    return env or named


def _check_capacity(c: _Collector, instance_type: str | None, model: str | None) -> Any:
    """Model × workers must fit the instance's memory; the load test plan must be valid."""
    if instance_type and model:
        reason = instance_fits(instance_type, model)
        if reason:
            c.add(("instanceType", "backgroundRemovalModel"), _show(instance_type), reason)
    plan, issues = parse_load_test(c.raw.get("loadTest"))
    for issue in issues:
        c.add(*issue)
    return plan


def runtime_config() -> dict[str, Any]:
    """Every config value the Pulumi runtime holds (CLI/Automation API env, or set_all_config).

    pulumi.Config only answers for keys asked by name; unknown-key detection needs them all.
    """
    from pulumi.runtime.config import CONFIG, get_config_env

    merged: dict[str, Any] = dict(get_config_env())
    merged.update(CONFIG.get())
    return merged


def load_stack_config(
    stack: str | None = None, config: Mapping[str, Any] | None = None
) -> StackConfig:
    """The program's entry point to config: current stack + runtime config unless given."""
    import pulumi

    stack = stack if stack is not None else pulumi.get_stack()
    raw = runtime_config() if config is None else config
    try:
        cfg = parse_stack_config(stack, raw)
    except StackConfigError as exc:
        raise mask_secret_values(exc, secret_config_keys(raw)) from None
    if cfg.tier == "prod" and not cfg.deletion_protection:
        pulumi.log.warn(
            f"deletionProtection is false on prod stack '{stack}': tables and buckets can be "
            "deleted. Only do this to decommission the stack."
        )
    return cfg


def secret_config_keys(raw: Mapping[str, Any]) -> set[str]:
    """The keys set with `pulumi config set --secret` (short and namespaced spellings)."""
    from pulumi.runtime.config import is_config_secret

    secret = {key for key in raw if is_config_secret(key)}
    return secret | {key.split(":", 1)[1] for key in secret if ":" in key}


def mask_secret_values(error: StackConfigError, secret_keys: set[str]) -> StackConfigError:
    """The same error with secret values (and validator details that quote them) hidden.

    A secret must never reach a terminal or CI log, not even when it is the invalid value.
    """
    if not secret_keys:
        return error
    issues = [
        replace(issue, got="[secret]", allowed=issue.allowed.split(" (", 1)[0])
        if set(issue.keys) & secret_keys
        else issue
        for issue in error.issues
    ]
    return StackConfigError(error.stack, issues)
