"""SES: sender identities (moto verifies them at once) and configuration sets.

moto's SES v1 API cannot set delivery options or the sending flag, but v1 and v2 share one
configuration-set model there, so sets are written through SESv2, which can: the set then
reads back the same through either API, as in AWS.
"""

from __future__ import annotations

import hashlib
from typing import Any

from common.aws_errors import error_code
from common.contracts import ResourceType
from sandbox.realise.context import RealiseContext, tag_list


def email_identity(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    email = str(inputs["email"])
    ctx.client("ses").verify_email_identity(EmailAddress=email)
    return email, {**inputs, "email": email, "arn": ctx.arn("ses", f"identity/{email}")}


def email_identity_v2(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    identity = str(inputs["emailIdentity"])
    sesv2 = ctx.client("sesv2")
    try:
        sesv2.get_email_identity(EmailIdentity=identity)
    except Exception as exc:
        if error_code(exc) != "NotFoundException":
            raise
        create: dict[str, Any] = {"EmailIdentity": identity}
        if inputs.get("configurationSetName"):
            create["ConfigurationSetName"] = inputs["configurationSetName"]
        if inputs.get("tags"):
            create["Tags"] = tag_list(inputs["tags"])
        sesv2.create_email_identity(**create)
    kind = "DOMAIN" if "@" not in identity else "EMAIL_ADDRESS"
    state = {
        **inputs,
        "arn": ctx.arn("ses", f"identity/{identity}"),
        "identityType": kind,
        "verifiedForSendingStatus": True,
        "tagsAll": ctx.tags_all(inputs),
    }
    if kind == "DOMAIN":
        # Easy DKIM: AWS issues three tokens per domain; moto issues none, so derive stable ones.
        tokens = [
            hashlib.sha256(f"{ctx.stack}/{identity}/{i}".encode()).hexdigest()[:32]
            for i in range(3)
        ]
        state["dkimSigningAttributes"] = {
            **(inputs.get("dkimSigningAttributes") or {}),
            "tokens": tokens,
            "status": "SUCCESS",
            "signingAttributesOrigin": "AWS_SES",
        }
    return identity, state


def _desired_v2(inputs: dict[str, Any], v1: bool) -> dict[str, Any]:
    """The v2 CreateConfigurationSet body for v1 (`ses`) or v2 (`sesv2`) resource inputs."""
    if v1:
        delivery = inputs.get("deliveryOptions") or {}
        return {
            "DeliveryOptions": {"TlsPolicy": str(delivery.get("tlsPolicy", "Optional")).upper()},
            "ReputationOptions": {
                "ReputationMetricsEnabled": bool(inputs.get("reputationMetricsEnabled", False))
            },
            "SendingOptions": {"SendingEnabled": bool(inputs.get("sendingEnabled", True))},
        }
    delivery = inputs.get("deliveryOptions") or {}
    reputation = inputs.get("reputationOptions") or {}
    sending = inputs.get("sendingOptions") or {}
    body: dict[str, Any] = {
        "DeliveryOptions": {"TlsPolicy": str(delivery.get("tlsPolicy", "OPTIONAL")).upper()},
        "ReputationOptions": {
            "ReputationMetricsEnabled": bool(reputation.get("reputationMetricsEnabled", False))
        },
        "SendingOptions": {"SendingEnabled": bool(sending.get("sendingEnabled", True))},
    }
    if delivery.get("sendingPoolName"):
        body["DeliveryOptions"]["SendingPoolName"] = delivery["sendingPoolName"]
    suppression = inputs.get("suppressionOptions") or {}
    if suppression.get("suppressedReasons"):
        body["SuppressionOptions"] = {"SuppressedReasons": list(suppression["suppressedReasons"])}
    if inputs.get("tags"):
        body["Tags"] = tag_list(inputs["tags"])
    return body


def _ensure_configuration_set(ctx: RealiseContext, set_name: str, body: dict[str, Any]) -> None:
    sesv2 = ctx.client("sesv2")
    try:
        current = sesv2.get_configuration_set(ConfigurationSetName=set_name)
    except Exception as exc:
        if error_code(exc) != "NotFoundException":
            raise
        current = None
    if current is not None:
        same = all(
            current.get(key) == body[key] for key in ("DeliveryOptions", "ReputationOptions")
        )
        if same:
            return
        sesv2.delete_configuration_set(ConfigurationSetName=set_name)
    sesv2.create_configuration_set(ConfigurationSetName=set_name, **body)


def configuration_set(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    set_name = ctx.physical_name(ResourceType.SES_CONFIGURATION_SET, name, inputs, max_len=64)
    _ensure_configuration_set(ctx, set_name, _desired_v2(inputs, v1=True))
    return set_name, {
        **inputs,
        "name": set_name,
        "arn": ctx.arn("ses", f"configuration-set/{set_name}"),
        "lastFreshStart": "",
    }


def configuration_set_v2(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    set_name = str(inputs["configurationSetName"])
    _ensure_configuration_set(ctx, set_name, _desired_v2(inputs, v1=False))
    return set_name, {
        **inputs,
        "arn": ctx.arn("ses", f"configuration-set/{set_name}"),
        "tagsAll": ctx.tags_all(inputs),
    }


HANDLERS = {
    ResourceType.SES_EMAIL_IDENTITY: email_identity,
    ResourceType.SESV2_EMAIL_IDENTITY: email_identity_v2,
    ResourceType.SES_CONFIGURATION_SET: configuration_set,
    ResourceType.SESV2_CONFIGURATION_SET: configuration_set_v2,
}
