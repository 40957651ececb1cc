"""Rules of the names browsers and mail recipients see: CORS origins, the public base URL the
mailed links are built from, and the host names the app answers for."""

from __future__ import annotations

import re

from components.config.schema import Context, Invalid

PUBLIC_URL_ALLOWED = "an https://host[:port] URL with no path (http://localhost only in dev)"
HOSTS_ALLOWED = "a list of lowercase host names, or .suffix entries for subdomains"
_HOST_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_HOST_ENTRY_RE = re.compile(r"^\.?(?!-)[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})*$")
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1")


def is_dns_name(name: str) -> bool:
    """At least two labels, each 1-63 of a-z0-9 and inner hyphens."""
    labels = name.split(".")
    return len(labels) >= 2 and all(_HOST_LABEL_RE.match(label) for label in labels)


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
    if not is_dns_name(host):
        return "host must be a DNS name such as app.example.com"
    return None


def cors_allowed(tier: str) -> str:
    return (
        "a list of https://host[:port] or http://localhost[:port] origins"
        + ("" if tier == "dev" else f", no '*' in {tier}")
        + (", no localhost in prod" if tier == "prod" else "")
    )


def valid_origins(origins: list[str], ctx: Context) -> list[str]:
    problems = [
        f"{o!r}: {why}" for o in origins if (why := origin_problem(o, ctx.tier)) is not None
    ]
    duplicates = sorted({o for o in origins if origins.count(o) > 1})
    if duplicates:
        problems.append(f"duplicates {duplicates}")
    if problems:
        raise Invalid(f"{cors_allowed(ctx.tier)} ({'; '.join(problems)})")
    return origins


def without_trailing_slash(url: str, ctx: Context) -> str:
    return url.rstrip("/")


def public_origin(url: str, ctx: Context) -> str:
    """publicBaseUrl is an origin: mailed links are built on it, and HTTPS redirects to it."""
    why = origin_problem(url, ctx.tier) if url != "*" else "not a URL"
    if why is not None:
        raise Invalid(f"{PUBLIC_URL_ALLOWED} ({why})")
    return url


def host_entries(hosts: list[str], ctx: Context) -> list[str]:
    if not all(_HOST_ENTRY_RE.match(h) for h in hosts):
        raise Invalid(HOSTS_ALLOWED)
    return hosts
