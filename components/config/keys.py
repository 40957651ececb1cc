"""THE TABLE: every stack config key, declared once.

Adding a key is one `Key(...)` row here (name, the StackConfig field it fills, kind, default
per environment, checks, doc line) plus its typed attribute on `StackConfig` (model.py; a test
ties the two) and its line in the README's stack config reference. A rule between keys goes in
the `rules_*` module of its concern and in `RULES` below.

Rows are in documentation order, which is also the order they are read and their problems
reported: a default or check may read only keys above it (`environment` comes first: it picks
the rule set of every later key).
"""

from __future__ import annotations

from components.capacity import parse_load_test
from components.config import (
    rules_canary,
    rules_deployment,
    rules_email,
    rules_network,
    rules_notifications,
    rules_origins,
)
from components.config.model import DEFAULT_SOLUTION_STACK, ENVIRONMENT_KEY, REGION_KEY
from components.config.rules_deployment import (
    DEPLOYMENT_POLICIES,
    ENVIRONMENTS,
    PROD_MIN_INSTANCES,
    TAGS_ALLOWED,
)
from components.config.rules_network import DEFAULT_WAF_RATE_LIMIT, EXEMPT_ALLOWED
from components.config.schema import (
    REQUIRED,
    Bool,
    Email,
    Int,
    Key,
    Nested,
    OneOf,
    PerEnv,
    Required,
    Rule,
    SameAs,
    StrList,
    StrMap,
    Text,
)

MODELS = ("u2netp", "u2net")
# EB's `aws:elasticbeanstalk:cloudwatch:logs` RetentionInDays accepts only these (a subset of
# what CloudWatch Logs' PutRetentionPolicy takes: not 1096, 2192, 2557, 2922 or 3288).
# fmt: off
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653,
)
# fmt: on
INSTANCES_RANGE = (1, 20)
MAX_UPLOAD_MB_RANGE = (1, 50)
LATENCY_BUDGET_MS_RANGE = (100, 60_000)
PHOTO_RETENTION_DAYS_RANGE = (1, 365)
#: How long `pulumi up` waits for the environment to be Ready (Terraform's default is 20m): an
#: Immutable prod deploy launches fresh instances and installs the ML stack on each.
DEFAULT_DEPLOY_TIMEOUT_MINUTES = PerEnv(dev=25, staging=40, prod=60)
DEPLOY_TIMEOUT_RANGE = (10, 180)
DEFAULT_DEPLOYMENT_POLICY = PerEnv(
    dev="AllAtOnce", staging="RollingWithAdditionalBatch", prod="Immutable"
)
EMAIL_COOLDOWN_RANGE = (30, 3600)
EMAIL_DAILY_CAP_RANGE = (1, 20)
ANALYTICS_RETENTION_DAYS_RANGE = (1, 3650)

# fmt: off
# Key(name, StackConfig field, kind, default, doc line, checks)
KEYS: tuple[Key, ...] = (
    Key(ENVIRONMENT_KEY, "environment", OneOf(ENVIRONMENTS), REQUIRED,
        "which rule set applies; a stack named prod*/staging* must match"),
    Key(REGION_KEY, "region", Text(rules_network.REGION_ALLOWED), REQUIRED,
        "a region botocore knows (did-you-mean for typos)",
        (rules_network.region_syntax, rules_network.region_exists)),
    Key("instanceType", "instance_type", Text(rules_deployment.INSTANCE_TYPE_ALLOWED), "t3.small",
        "EC2 instance type of the EB environment", (rules_deployment.instance_type_syntax,)),
    Key("minInstances", "min_instances", Int(INSTANCES_RANGE),
        PerEnv(dev=1, staging=1, prod=PROD_MIN_INSTANCES), "auto scaling minimum"),
    Key("maxInstances", "max_instances", Int(INSTANCES_RANGE), SameAs("minInstances"),
        "auto scaling maximum"),
    Key("deploymentPolicy", "deployment_policy", OneOf(DEPLOYMENT_POLICIES),
        DEFAULT_DEPLOYMENT_POLICY, "EB deployment policy; not AllAtOnce in prod",
        (rules_deployment.not_all_at_once_in_prod,)),
    Key("senderEmail", "sender_email", Email(), REQUIRED, "SES sender address (normalised)"),
    Key("alarmEmail", "alarm_email", Email(),
        PerEnv(dev=None, staging=None, prod=Required(
            "nothing", "an address that receives prod alarms (required in prod)")),
        "address subscribed to the alarm topic"),
    Key("corsAllowedOrigins", "cors_allowed_origins", StrList(rules_origins.cors_allowed), [],
        "browser origins allowed by CORS", (rules_origins.valid_origins,)),
    Key("logRetentionDays", "log_retention_days", OneOf(LOG_RETENTION_DAYS), 30,
        "CloudWatch Logs retention"),
    Key("backgroundRemovalModel", "background_removal_model", OneOf(MODELS), "u2netp",
        "rembg model bundled with the app"),
    Key("selfContainedBundle", "self_contained_bundle", Bool(),
        PerEnv(dev=False, staging=True, prod=True),
        "bundle ships the locked wheels (installs with --no-index; no PyPI on instances)"),
    Key("maxUploadMb", "max_upload_mb", Int(MAX_UPLOAD_MB_RANGE), 10, "largest photo upload"),
    Key("latencyBudgetMs", "latency_budget_ms", Int(LATENCY_BUDGET_MS_RANGE), 3000,
        "p95 budget for verify; p99 alarm threshold"),
    Key("photoRetentionDays", "photo_retention_days", Int(PHOTO_RETENTION_DAYS_RANGE), 7,
        "media bucket expiry"),
    Key("deletionProtection", "deletion_protection", Bool(),
        PerEnv(dev=False, staging=False, prod=True), "Pulumi `protect` on tables and buckets"),
    Key("tags", "tags", StrMap(TAGS_ALLOWED), {}, "extra tags on every taggable resource",
        (rules_deployment.valid_tags,)),
    Key("solutionStack", "solution_stack", Text("an Amazon Linux 2023 Python 3.11 EB platform"),
        DEFAULT_SOLUTION_STACK, "the pinned EB platform", (rules_deployment.tested_platform,)),
    Key("deployTimeoutMinutes", "deploy_timeout_minutes", Int(DEPLOY_TIMEOUT_RANGE),
        DEFAULT_DEPLOY_TIMEOUT_MINUTES, "wait_for_ready_timeout of the EB environment"),
    Key("senderDomain", "sender_domain", Text(rules_email.SENDER_DOMAIN_ALLOWED), None,
        "SES domain identity with Easy DKIM", (rules_email.domain_syntax,)),
    Key("route53ZoneId", "route53_zone_id", Text(rules_email.ZONE_ALLOWED), None,
        "hosted zone of senderDomain: the DKIM records go there"),
    Key("certificateArn", "certificate_arn", Text(rules_network.CERTIFICATE_ALLOWED), None,
        "ACM certificate of the HTTPS listener", (rules_network.certificate_in_region,)),
    Key("allowInsecureHttp", "allow_insecure_http", Bool(), False,
        "serve plain HTTP knowingly (staging/prod without a certificate)"),
    Key("vpcId", "vpc_id", Text(rules_network.VPC_ALLOWED), None, "VPC (with subnets)",
        (rules_network.vpc_id_syntax,)),
    Key("subnets", "subnets", StrList(rules_network.SUBNETS_ALLOWED), [],
        "the instances' subnets of vpcId, at least 2", (rules_network.subnet_ids,)),
    Key("elbSubnets", "elb_subnets", StrList(rules_network.SUBNETS_ALLOWED), [],
        "the load balancer's subnets of vpcId (public ones for a public ALB), at least 2",
        (rules_network.subnet_ids,)),
    Key("associatePublicIpAddress", "associate_public_ip_address", Bool(), False,
        "public IPs on the instances (only when they sit in the ALB's public subnets)"),
    Key("elbScheme", "elb_scheme", OneOf(rules_network.ELB_SCHEMES), "public",
        "public (internet-facing load balancer) or internal"),
    Key("publicBaseUrl", "abuse.public_base_url", Text(rules_origins.PUBLIC_URL_ALLOWED),
        PerEnv(dev="http://localhost", staging=REQUIRED, prod=REQUIRED),
        "the base of mailed links", (rules_origins.without_trailing_slash,
                                     rules_origins.public_origin)),
    Key("allowedHosts", "abuse.allowed_hosts", StrList(rules_origins.HOSTS_ALLOWED), [],
        "host names or .suffixes the app also answers for", (rules_origins.host_entries,)),
    Key("emailResendCooldownSeconds", "abuse.email_resend_cooldown_s",
        Int(EMAIL_COOLDOWN_RANGE), 60, "seconds between two mails to one address"),
    Key("emailDailyCap", "abuse.email_daily_cap", Int(EMAIL_DAILY_CAP_RANGE), 5,
        "mails per address per UTC day"),
    Key("wafRateLimit", "abuse.waf_rate_limit", Int(allowed="0 (off, dev only) or 100..2000000000"),
        PerEnv(dev=0, staging=DEFAULT_WAF_RATE_LIMIT, prod=DEFAULT_WAF_RATE_LIMIT),
        "requests per IP per 5 minutes before the WAF blocks", (rules_network.waf_rate_limit,)),
    Key("analyticsRetentionDays", "abuse.analytics_retention_days",
        Int(ANALYTICS_RETENTION_DAYS_RANGE), 90, "analytics TTL"),
    Key("rateLimitExemptCidrs", "abuse.rate_limit_exempt_cidrs", StrList(EXEMPT_ALLOWED), [],
        "the load generators: neither the app's limits nor the WAF count them",
        (rules_network.narrow_ipv4_networks,)),
    Key("loadTest", "load_test", Nested(parse_load_test), None,
        "the `load` check's plan and thresholds (components/capacity.py)"),
    Key("canary", "canary", Nested(rules_canary.parse_canary), None,
        "canary deploy: traffic split, judge, bake (docs/canary.md)"),
    Key("notifications", "notifications", Nested(rules_notifications.parse_notifications), None,
        "team channels: Apprise URLs, a Pulumi secret (automation/notify.py)"),
    Key("notifyOn", "notify_on", StrList(rules_notifications.NOTIFY_ON_ALLOWED),
        rules_notifications.DEFAULT_NOTIFY_ON, "which pipeline events are sent to them",
        (rules_notifications.known_events,)),
)
# fmt: on

RULES: tuple[Rule, ...] = (
    *rules_deployment.RULES,
    *rules_email.RULES,
    *rules_network.RULES,
    *rules_canary.RULES,
)

#: The keys a stack file may set in the project namespace, in documentation order.
PROJECT_KEYS = tuple(key.name for key in KEYS if ":" not in key.name)
ABUSE_KEYS = tuple(key.name for key in KEYS if key.field.startswith("abuse."))
