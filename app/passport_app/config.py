"""Settings from the environment variables the Elastic Beanstalk environment sets.

The app is configured *only* by environment variables (docs/contracts.md); this module is the one
place that reads them, so a misconfigured environment fails at start with every problem listed,
rather than on the first request that happens to need the missing value.
"""

from __future__ import annotations

import os
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


REQUIRED = ("EMAIL_TABLE", "ANALYTICS_TABLE", "MEDIA_BUCKET", "SENDER_EMAIL")


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
    )
