"""The vocabulary of the key table (`keys.py`): a `Key`, the kinds of value, defaults per
environment, and the `Check`s and `Rule`s that judge values.

A value arrives as a YAML native (a stack file read by the `check` stage) or as the string the
Pulumi CLI hands a program (structured values as JSON); every kind accepts both, so the same
table serves the program, the automation `check` stage and the tests.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email

from components.config.model import ConfigIssue


def show(value: Any) -> str:
    """A value as an issue quotes it (JSON, as it would be written in a stack file)."""
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str:
    near = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {near[0]}?)" if near else ""


class Context:
    """One parse in progress: what checks and rules may read, and where their issues go."""

    def __init__(self, stack: str, raw: Mapping[str, Any], tier: str) -> None:
        self.stack = stack
        self.raw = raw
        """The stack's keys, flattened (`key`, `aws:region`): presence of a key, as set."""
        self.tier = tier
        """dev, staging or prod: the rule set (the `environment` key, once it is read)."""
        self.values: dict[str, Any] = {}
        """The keys read so far (None where missing without a default, or invalid)."""
        self.issues: list[ConfigIssue] = []

    def add(self, keys: str | tuple[str, ...], got: str, allowed: str) -> None:
        self.issues.append(ConfigIssue((keys,) if isinstance(keys, str) else keys, got, allowed))


class Invalid(ValueError):
    """Raised by a check: the value breaks its rule. The key then holds `value` (None)."""

    def __init__(self, allowed: str, got: str | None = None, value: Any = None) -> None:
        super().__init__(allowed)
        self.allowed = allowed
        self.got = got
        self.value = value


#: A check judges one key's value (it may read the tier and keys above it in the table) and
#: returns it, normalised if need be; it raises Invalid to report it.
Check = Callable[[Any, Context], Any]


@dataclass(frozen=True)
class Rule:
    """A rule between keys: runs once every key it reads has been read; only reports."""

    reads: tuple[str, ...]
    run: Callable[[Context], None]


def rule(*reads: str) -> Callable[[Callable[[Context], None]], Rule]:
    """Decorator: `@rule("minInstances", "maxInstances")` over `def name(ctx) -> None`."""
    return lambda run: Rule(reads, run)


# --- Defaults ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Required:
    """No default: the key must be set (in the environments whose default this is)."""

    got: str = "nothing (the key is required)"
    allowed: str | None = None
    """What the issue says is accepted; None: what the key's kind accepts."""


REQUIRED = Required()


@dataclass(frozen=True)
class PerEnv:
    """A default that differs by environment."""

    dev: Any
    staging: Any
    prod: Any

    def __getitem__(self, tier: str) -> Any:
        return getattr(self, tier)


@dataclass(frozen=True)
class SameAs:
    """A default taken from another key above in the table (its value, else its default)."""

    key: str


# --- Kinds: how a raw value becomes a typed one ----------------------------------------------


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


class Kind:
    """What a key's value must be: `describe` says it, `coerce` reads a raw value (raising
    TypeError/ValueError), `validate` checks what every value of the kind must satisfy."""

    def describe(self, tier: str) -> str:
        raise NotImplementedError

    def coerce(self, raw: Any) -> Any:
        raise NotImplementedError

    def validate(self, value: Any, tier: str) -> Any:
        return value


@dataclass(frozen=True)
class Text(Kind):
    """A non-empty string (stripped); `allowed` may depend on the tier."""

    allowed: str | Callable[[str], str]

    def describe(self, tier: str) -> str:
        return self.allowed if isinstance(self.allowed, str) else self.allowed(tier)

    def coerce(self, raw: Any) -> Any:
        return _to_str(raw)


class StrList(Text):
    """A list of strings (JSON text from the Pulumi CLI)."""

    def coerce(self, raw: Any) -> list[str]:
        return _to_str_list(raw)


class StrMap(Text):
    """A map of strings (numbers become strings; JSON text from the Pulumi CLI)."""

    def coerce(self, raw: Any) -> dict[str, str]:
        return _to_str_map(raw)


class Bool(Kind):
    def describe(self, tier: str) -> str:
        return "true or false"

    def coerce(self, raw: Any) -> bool:
        return _to_bool(raw)


@dataclass(frozen=True)
class Int(Kind):
    """An integer from `bounds[0]` to `bounds[1]`; or, without bounds, what `allowed` says
    (a check then judges it)."""

    bounds: tuple[int, int] | None = None
    allowed: str = ""

    def describe(self, tier: str) -> str:
        if self.bounds is None:
            return self.allowed
        return f"an integer from {self.bounds[0]} to {self.bounds[1]}"

    def coerce(self, raw: Any) -> int:
        return _to_int(raw)

    def validate(self, value: int, tier: str) -> int:
        if self.bounds is not None and not self.bounds[0] <= value <= self.bounds[1]:
            raise Invalid(self.describe(tier))
        return value


@dataclass(frozen=True)
class OneOf(Kind):
    """One of `choices` (integers if the choices are)."""

    choices: tuple[Any, ...]

    def describe(self, tier: str) -> str:
        return "one of " + ", ".join(str(c) for c in self.choices)

    def coerce(self, raw: Any) -> Any:
        return _to_int(raw) if isinstance(self.choices[0], int) else _to_str(raw)

    def validate(self, value: Any, tier: str) -> Any:
        if value not in self.choices:
            raise Invalid(self.describe(tier))
        return value


class Email(Kind):
    """An email address, kept as email-validator normalises it (no DNS lookup)."""

    def describe(self, tier: str) -> str:
        return "a valid email address such as noreply@example.com"

    def coerce(self, raw: Any) -> str:
        return _to_str(raw)

    def validate(self, value: str, tier: str) -> str:
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise Invalid(f"{self.describe(tier)} ({exc})") from None


@dataclass(frozen=True)
class Nested:
    """A structured key with its own parser: raw value (or None) -> (value, issues)."""

    parse: Callable[[Any], tuple[Any, list[tuple[str, str, str]]]]


# --- The row ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """One config key: everything about it, in one row of the table."""

    name: str
    """As written in the stack file: in the project namespace unless it has a colon."""
    field: str
    """The StackConfig attribute it fills (`abuse.<name>`: the AbuseConfig one)."""
    kind: Kind | Nested
    default: Any
    """A value, PerEnv(...), SameAs(key), or Required (REQUIRED)."""
    doc: str
    checks: tuple[Check, ...] = ()
