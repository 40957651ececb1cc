"""Settings from the environment variables the Elastic Beanstalk environment sets.

The app is configured *only* by environment variables (docs/contracts.md); this module is the one
place that reads them, so a misconfigured environment fails at start with every problem listed,
rather than on the first request that happens to need the missing value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: The bundle root (the folder holding application.py); relative U2NET_HOME resolves against it.
APP_ROOT = Path(__file__).resolve().parent.parent

ALLOWED_MODELS = ("u2net", "u2netp")
MAX_UPLOAD_MB_RANGE = (1, 50)


class ConfigError(ValueError):
    """The environment is missing or has invalid settings; the message lists all of them."""


@dataclass(frozen=True)
class Settings:
    app_version: str
    email_table: str
    analytics_table: str
    media_bucket: str
    sender_email: str
    ses_configuration_set: str | None
    cors_allowed_origins: tuple[str, ...]
    rembg_model: str
    model_home: Path
    max_upload_mb: int
    aws_region: str
    # Abuse resistance (docs/threat-model.md): links and host names from config, never from
    # the request; per-address send quota; per-client request limits (Flask-Limiter syntax).
    public_base_url: str = "https://localhost"
    allowed_hosts: tuple[str, ...] = ("localhost",)
    email_resend_cooldown_s: int = 60
    email_daily_cap: int = 5
    rate_limit_validate: str = "5 per minute;30 per hour"
    rate_limit_confirm: str = "20 per minute"
    rate_limit_photos: str = "30 per minute"
    analytics_ttl_days: int = 90
    trusted_proxy_hops: int = 2
    rate_limit_exempt: tuple[str, ...] = ()
    """CIDRs of trusted load generators the per-client limits do not count (stack config)."""
    force_https: bool = False
    """FORCE_HTTPS: the ALB terminates TLS (stack config certificateArn); redirect HTTP to it."""

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def model_file(self) -> Path:
        return self.model_home / f"{self.rembg_model}.onnx"


def bundle_version(root: Path = APP_ROOT) -> str:
    """The label app.bundle wrote into the bundle's VERSION file ("dev" outside a bundle).

    Read from the bundle rather than an EB option setting, so that a deploy of new code changes
    only the environment's version label (issue 10, item 6). APP_VERSION still overrides it for
    local runs and tests.
    """
    try:
        return (root / "VERSION").read_text(encoding="utf-8").strip() or "dev"
    except OSError:
        return "dev"


REQUIRED = ("EMAIL_TABLE", "ANALYTICS_TABLE", "MEDIA_BUCKET", "SENDER_EMAIL", "PUBLIC_BASE_URL")
RATE_LIMIT_DEFAULTS = {
    "RATE_LIMIT_VALIDATE": "5 per minute;30 per hour",
    "RATE_LIMIT_CONFIRM": "20 per minute",
    "RATE_LIMIT_PHOTOS": "30 per minute",
}
_BASE_URL_RE = re.compile(r"^(https?)://([a-z0-9.-]+)(:\d{1,5})?$")
_HOST_RE = re.compile(r"^\.?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")


def _int_in(
    env: Mapping[str, str], name: str, default: int, low: int, high: int, problems: list[str]
) -> int:
    raw = env.get(name, "").strip() or str(default)
    try:
        value = int(raw)
        if not low <= value <= high:
            raise ValueError
    except ValueError:
        problems.append(f"{name}: {raw[:40]!r} — allowed: an integer {low}..{high}")
        return default
    return value


def _abuse_settings(env: Mapping[str, str], problems: list[str]) -> dict[str, object]:
    """The abuse-resistance block: public URL, host names, quotas, per-client limits."""
    from limits import parse_many

    base = env.get("PUBLIC_BASE_URL", "").strip().rstrip("/")
    match = _BASE_URL_RE.match(base)
    if base and not match:
        problems.append(
            f"PUBLIC_BASE_URL: {base[:80]!r} — allowed: scheme://host[:port] in lowercase, no path"
        )
    hosts = [h.strip().lower() for h in env.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
    if match and match.group(2) not in hosts:
        hosts.insert(0, match.group(2))
    for host in hosts:
        if not _HOST_RE.match(host):
            problems.append(f"ALLOWED_HOSTS: {host[:80]!r} — allowed: host names or .suffixes")
    limits_ = {}
    for name, default in RATE_LIMIT_DEFAULTS.items():
        value = env.get(name, "").strip() or default
        try:
            parse_many(value)
        except ValueError:
            problems.append(
                f"{name}: {value[:80]!r} — allowed: limits like '5 per minute;30 per hour'"
            )
            value = default
        limits_[name] = value
    return {
        "public_base_url": base,
        "allowed_hosts": tuple(hosts),
        "email_resend_cooldown_s": _int_in(
            env, "EMAIL_RESEND_COOLDOWN_SECONDS", 60, 1, 86400, problems
        ),
        "email_daily_cap": _int_in(env, "EMAIL_DAILY_CAP", 5, 1, 100, problems),
        "rate_limit_validate": limits_["RATE_LIMIT_VALIDATE"],
        "rate_limit_confirm": limits_["RATE_LIMIT_CONFIRM"],
        "rate_limit_photos": limits_["RATE_LIMIT_PHOTOS"],
        "analytics_ttl_days": _int_in(env, "ANALYTICS_TTL_DAYS", 90, 1, 3650, problems),
        "trusted_proxy_hops": _int_in(env, "TRUSTED_PROXY_HOPS", 2, 0, 3, problems),
        "rate_limit_exempt": _exempt_networks(env, problems),
        "force_https": _force_https(env, base, problems),
    }


def _force_https(env: Mapping[str, str], base: str, problems: list[str]) -> bool:
    """FORCE_HTTPS=true|false; true needs an https:// PUBLIC_BASE_URL to redirect to."""
    raw = env.get("FORCE_HTTPS", "").strip().lower() or "false"
    if raw not in ("true", "false"):
        problems.append(f"FORCE_HTTPS: {raw[:20]!r} — allowed: true, false")
        return False
    if raw == "true" and base and not base.startswith("https://"):
        problems.append(
            f"FORCE_HTTPS: true with PUBLIC_BASE_URL {base[:80]!r} — allowed: an https:// "
            "PUBLIC_BASE_URL (the redirect's target)"
        )
    return raw == "true"


def _exempt_networks(env: Mapping[str, str], problems: list[str]) -> tuple[str, ...]:
    """RATE_LIMIT_EXEMPT_CIDRS: the load generators' IPv4 networks (comma-separated)."""
    import ipaddress

    networks = []
    for raw in (c.strip() for c in env.get("RATE_LIMIT_EXEMPT_CIDRS", "").split(",")):
        if not raw:
            continue
        try:
            networks.append(str(ipaddress.IPv4Network(raw)))
        except ValueError:
            problems.append(f"RATE_LIMIT_EXEMPT_CIDRS: {raw[:40]!r} — allowed: IPv4 CIDRs")
    return tuple(networks)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Parse and validate the app's environment; raise ConfigError naming every bad variable."""
    env = os.environ if env is None else env
    problems: list[str] = []

    for name in REQUIRED:
        if not env.get(name, "").strip():
            problems.append(f"{name}: missing — required (set by the EB environment)")

    model = env.get("REMBG_MODEL", "u2netp").strip() or "u2netp"
    if model not in ALLOWED_MODELS:
        problems.append(f"REMBG_MODEL: {model!r} — allowed: {', '.join(ALLOWED_MODELS)}")

    raw_mb = env.get("MAX_UPLOAD_MB", "10").strip() or "10"
    low, high = MAX_UPLOAD_MB_RANGE
    try:
        max_mb = int(raw_mb)
        if not low <= max_mb <= high:
            raise ValueError
    except ValueError:
        problems.append(f"MAX_UPLOAD_MB: {raw_mb!r} — allowed: an integer {low}..{high}")
        max_mb = 10

    origins = tuple(
        o.strip().rstrip("/") for o in env.get("CORS_ALLOWED_ORIGINS", "").split(",") if o.strip()
    )
    for origin in origins:
        if origin == "*" or "://" not in origin:
            problems.append(
                f"CORS_ALLOWED_ORIGINS: {origin!r} — allowed: comma-separated "
                "scheme://host[:port] origins, no '*'"
            )

    abuse = _abuse_settings(env, problems)

    home = Path(env.get("U2NET_HOME", "models").strip() or "models")
    if not home.is_absolute():
        home = APP_ROOT / home

    if problems:
        raise ConfigError("invalid app environment:\n  " + "\n  ".join(problems))

    return Settings(
        app_version=env.get("APP_VERSION", "").strip() or bundle_version(),
        email_table=env["EMAIL_TABLE"].strip(),
        analytics_table=env["ANALYTICS_TABLE"].strip(),
        media_bucket=env["MEDIA_BUCKET"].strip(),
        sender_email=env["SENDER_EMAIL"].strip(),
        ses_configuration_set=env.get("SES_CONFIGURATION_SET", "").strip() or None,
        cors_allowed_origins=origins,
        rembg_model=model,
        model_home=home,
        max_upload_mb=max_mb,
        aws_region=(env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1").strip(),
        **abuse,  # type: ignore[arg-type]
    )
