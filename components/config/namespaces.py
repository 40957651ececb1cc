"""Which keys a stack file may hold: ours (the project namespace, or bare), the aws provider's,
and pulumi's. Anything else is a typo (with a did-you-mean) or a foreign provider."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from components.config.model import PROJECT, REGION_KEY
from components.config.schema import Context, did_you_mean, show

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


def _foreign_key_ok(full_key: str, value: Any, ctx: Context) -> None:
    """A key outside our namespace: the aws provider's keys and pulumi's are fine; typos not."""
    namespace, _, key = full_key.partition(":")
    if namespace == "aws":
        if key not in AWS_PROVIDER_KEYS:
            near = did_you_mean(f"aws:{key}", [f"aws:{k}" for k in AWS_PROVIDER_KEYS])
            ctx.add(full_key, show(value), f"a key of the aws provider{near}")
    elif namespace != "pulumi":
        close = difflib.get_close_matches(namespace, list(KNOWN_NAMESPACES), n=1)
        near = f" (did you mean {close[0]}:{key}?)" if close else ""
        ctx.add(
            full_key,
            show(value),
            f"keys in the namespaces {', '.join(KNOWN_NAMESPACES)}{near}",
        )


def split_keys(
    raw: Mapping[str, Any], project_keys: tuple[str, ...], ctx: Context
) -> dict[str, Any]:
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
            _foreign_key_ok(full_key, value, ctx)
            continue
        else:
            key = full_key
        if key not in project_keys:
            hint = did_you_mean(key, project_keys)
            ctx.add(key, show(value), f"only the documented keys {', '.join(project_keys)}{hint}")
            continue
        flat[key] = value
    return flat
