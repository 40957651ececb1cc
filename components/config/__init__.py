"""Typed, validated stack configuration.

Every key is one row of the table in `keys.py` (name, StackConfig field, kind, default per
environment, checks, doc line); `parse.py` reads the table, `namespaces.py` flags unknown keys,
the `rules_*` modules hold the checks and the rules between keys by concern, `model.py` the
result (`StackConfig`) and its error, `runtime.py` the Pulumi program's entry point.
"""

from __future__ import annotations

from components.config.keys import (
    ABUSE_KEYS,
    ANALYTICS_RETENTION_DAYS_RANGE,
    DEFAULT_DEPLOY_TIMEOUT_MINUTES,
    DEFAULT_DEPLOYMENT_POLICY,
    DEPLOY_TIMEOUT_RANGE,
    EMAIL_COOLDOWN_RANGE,
    EMAIL_DAILY_CAP_RANGE,
    INSTANCES_RANGE,
    KEYS,
    LATENCY_BUDGET_MS_RANGE,
    LOG_RETENTION_DAYS,
    MAX_UPLOAD_MB_RANGE,
    MODELS,
    PHOTO_RETENTION_DAYS_RANGE,
    PROJECT_KEYS,
)
from components.config.model import (
    DEFAULT_SOLUTION_STACK,
    ENVIRONMENT_KEY,
    PROJECT,
    REGION_KEY,
    AbuseConfig,
    CanaryConfig,
    ConfigIssue,
    StackConfig,
    StackConfigError,
)
from components.config.namespaces import AWS_PROVIDER_KEYS, KNOWN_NAMESPACES
from components.config.parse import parse_stack_config
from components.config.rules_deployment import (
    DEPLOYMENT_POLICIES,
    ENVIRONMENTS,
    MAX_EXTRA_TAGS,
    PROD_MIN_INSTANCES,
    RESERVED_TAG_KEYS,
    SOLUTION_STACK_RE,
    stack_tier,
)
from components.config.rules_network import (
    DEFAULT_WAF_RATE_LIMIT,
    MIN_EXEMPT_PREFIX,
    WAF_RATE_LIMIT_RANGE,
    known_regions,
)
from components.config.rules_origins import origin_problem
from components.config.runtime import (
    load_stack_config,
    mask_secret_values,
    runtime_config,
    secret_config_keys,
)

__all__ = [
    "ABUSE_KEYS",
    "ANALYTICS_RETENTION_DAYS_RANGE",
    "AWS_PROVIDER_KEYS",
    "DEFAULT_DEPLOYMENT_POLICY",
    "DEFAULT_DEPLOY_TIMEOUT_MINUTES",
    "DEFAULT_SOLUTION_STACK",
    "DEFAULT_WAF_RATE_LIMIT",
    "DEPLOYMENT_POLICIES",
    "DEPLOY_TIMEOUT_RANGE",
    "EMAIL_COOLDOWN_RANGE",
    "EMAIL_DAILY_CAP_RANGE",
    "ENVIRONMENTS",
    "ENVIRONMENT_KEY",
    "INSTANCES_RANGE",
    "KEYS",
    "KNOWN_NAMESPACES",
    "LATENCY_BUDGET_MS_RANGE",
    "LOG_RETENTION_DAYS",
    "MAX_EXTRA_TAGS",
    "MAX_UPLOAD_MB_RANGE",
    "MIN_EXEMPT_PREFIX",
    "MODELS",
    "PHOTO_RETENTION_DAYS_RANGE",
    "PROD_MIN_INSTANCES",
    "PROJECT",
    "PROJECT_KEYS",
    "REGION_KEY",
    "RESERVED_TAG_KEYS",
    "SOLUTION_STACK_RE",
    "WAF_RATE_LIMIT_RANGE",
    "AbuseConfig",
    "CanaryConfig",
    "ConfigIssue",
    "StackConfig",
    "StackConfigError",
    "known_regions",
    "load_stack_config",
    "mask_secret_values",
    "origin_problem",
    "parse_stack_config",
    "runtime_config",
    "secret_config_keys",
    "stack_tier",
]
