"""`parse_stack_config`: the table in keys.py, read row by row.

Pure (no Pulumi runtime needed), so the same rules run in unit and property tests, in the
automation `check` stage (straight from a `Pulumi.<stack>.yaml`) and in the program itself
through `load_stack_config`. Every problem is collected and reported at once: a deploy that
fails on the first typo, then on the second, wastes a pipeline run per key.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from components.config.keys import KEYS, PROJECT_KEYS, RULES
from components.config.model import (
    ENVIRONMENT_KEY,
    AbuseConfig,
    StackConfig,
    StackConfigError,
)
from components.config.namespaces import split_keys
from components.config.rules_deployment import stack_tier
from components.config.schema import (
    Context,
    Invalid,
    Key,
    Nested,
    PerEnv,
    Required,
    Rule,
    SameAs,
    show,
)

_BY_NAME = {key.name: key for key in KEYS}
#: Each rule runs right after the last of the keys it reads.
_RULES_AFTER: dict[str, list[Rule]] = {key.name: [] for key in KEYS}
for _rule in RULES:
    _RULES_AFTER[max(_rule.reads, key=[key.name for key in KEYS].index)].append(_rule)


def _default(key: Key, ctx: Context) -> Any:
    default = key.default
    if isinstance(default, PerEnv):
        default = default[ctx.tier]
    if isinstance(default, SameAs):
        value = ctx.values[default.key]
        return value if value is not None else _default(_BY_NAME[default.key], ctx)
    return copy.copy(default)  # the table's [] and {} are shared


def _read(key: Key, ctx: Context) -> Any:
    """One key's value: coerced, defaulted, checked; None (and an issue) when it is invalid."""
    if isinstance(key.kind, Nested):
        value, issues = key.kind.parse(ctx.raw.get(key.name))
        for keys, got, allowed in issues:
            ctx.add(keys, got, allowed)
        return value
    raw = ctx.raw.get(key.name)
    if raw is None:
        value = _default(key, ctx)
        if isinstance(value, Required):
            ctx.add(key.name, value.got, value.allowed or key.kind.describe(ctx.tier))
            return None
    else:
        try:
            value = key.kind.coerce(raw)
        except (TypeError, ValueError):
            ctx.add(key.name, show(raw), key.kind.describe(ctx.tier))
            return None
    if value is None:
        return None
    try:
        value = key.kind.validate(value, ctx.tier)
        for check in key.checks:
            value = check(value, ctx)
    except Invalid as bad:
        ctx.add(key.name, bad.got if bad.got is not None else show(value), bad.allowed)
        return bad.value
    return value


def parse_stack_config(stack: str, raw: Mapping[str, Any]) -> StackConfig:
    """Validate a stack's raw config (YAML values or Pulumi's strings) into a StackConfig.

    `raw` uses the stack-file keys: `aws:region` and `passport-photo-backend:<key>` (bare
    `<key>` is accepted too). Raises StackConfigError listing every problem.
    """
    ctx = Context(stack, {}, stack_tier(stack))
    ctx.raw = split_keys(raw, PROJECT_KEYS, ctx)
    for key in KEYS:
        ctx.values[key.name] = _read(key, ctx)
        if key.name == ENVIRONMENT_KEY:
            ctx.tier = ctx.values[key.name] or ctx.tier
        for rule in _RULES_AFTER[key.name]:
            rule.run(ctx)
    if ctx.issues:
        raise StackConfigError(stack, ctx.issues)
    fields: dict[str, Any] = {"stack": stack}
    abuse: dict[str, Any] = {}
    for key in KEYS:
        value = ctx.values[key.name]
        value = tuple(value) if isinstance(value, list) else value
        group, _, name = key.field.rpartition(".")
        (abuse if group == "abuse" else fields)[name] = value
    return StackConfig(**fields, abuse=AbuseConfig(**abuse))
