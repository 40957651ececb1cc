"""CloudWatch Logs filter patterns: AWS's syntax rules, and matching for terms and regex.

moto stores a metric filter's pattern without reading it (and has no TestMetricFilter), so a
pattern AWS refuses would pass the sandbox and a pattern that never matches the app's log would
go unnoticed. `check` refuses what PutMetricFilter refuses, cheaply (length, the regex character
set, parentheses, multi-byte characters, unbalanced quotes/brackets); `matches` evaluates the term
and regex forms the way TestMetricFilter does, so a test can prove a pattern against real log
lines. JSON (`{ ... }`) and space-delimited (`[ ... ]`) patterns are checked for shape only.
Rules: docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
"""

from __future__ import annotations

import re

MAX_PATTERN = 1024
REGEX_SYMBOLS = set(":_#=@/;,-")
REGEX_OPERATORS = set("^$?[]{}|\\*+.")


class InvalidFilterPattern(ValueError):
    """What AWS answers with InvalidParameterException for PutMetricFilter."""


def check(pattern: str) -> None:
    """Raise InvalidFilterPattern for a pattern AWS refuses."""
    if len(pattern) > MAX_PATTERN:
        raise InvalidFilterPattern(f"filterPattern is {len(pattern)} characters (max 1024)")
    if not pattern.isascii():
        raise InvalidFilterPattern("filterPattern: multi-byte characters are not supported")
    text = pattern.strip()
    if text[:1] in ("{", "[") and _closing(text[0]) != text[-1:]:
        raise InvalidFilterPattern(f"filterPattern {pattern!r}: unbalanced {text[0]}")
    for regex in _regexes(pattern):
        _check_regex(regex)
    if text[:1] not in ("{", "["):
        _terms(text)


def matches(pattern: str, message: str) -> bool:
    """Whether a term or regex pattern matches one log event (as TestMetricFilter reports)."""
    check(pattern)
    text = pattern.strip()
    if not text:
        return True
    if text[0] in "{[":
        raise NotImplementedError("the sandbox checks JSON/delimited patterns for shape only")
    if text.startswith("%") and text.endswith("%") and len(text) > 1:
        return re.search(text[1:-1], message) is not None
    terms = _terms(text)
    optional = [t for op, t in terms if op == "?"]
    if optional:
        return any(t in message for t in optional)
    return all((t in message) == (op != "-") for op, t in terms)


def _closing(opening: str) -> str:
    return "}" if opening == "{" else "]"


def _regexes(pattern: str) -> list[str]:
    if pattern.count("%") % 2:
        raise InvalidFilterPattern(f"filterPattern {pattern!r}: unterminated %regex%")
    return pattern.split("%")[1::2]


def _check_regex(regex: str) -> None:
    bad = sorted({c for c in regex if not c.isalnum() and c not in REGEX_SYMBOLS | REGEX_OPERATORS})
    if bad:
        raise InvalidFilterPattern(
            f"regex %{regex}%: characters {''.join(bad)!r} are not supported (no parentheses, "
            "quotes or spaces; use . for them)"
        )
    try:
        re.compile(regex)
    except re.error as exc:
        raise InvalidFilterPattern(f"regex %{regex}%: {exc}") from exc


def _terms(text: str) -> list[tuple[str, str]]:
    """(operator, term) pairs: operator '' (must appear), '-' (must not) or '?' (any of)."""
    if text.startswith("%") and text.endswith("%"):
        return []
    out: list[tuple[str, str]] = []
    for match in re.finditer(r'\s*([-?]?)(?:"([^"]*)"|([^\s"]+))', text):
        op, quoted, bare = match.groups()
        out.append((op, quoted if quoted is not None else bare))
    rebuilt = "".join(m.group(0) for m in re.finditer(r'\s*([-?]?)(?:"[^"]*"|[^\s"]+)', text))
    if rebuilt.strip() != text:
        raise InvalidFilterPattern(f"filterPattern {text!r}: unbalanced quotes")
    return out
