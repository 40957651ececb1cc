"""The program's side of config: read the Pulumi runtime's values, parse them, never echo a
secret."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from components.config.model import StackConfig, StackConfigError
from components.config.parse import parse_stack_config


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
