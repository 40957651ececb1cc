"""SNS: topics (create is idempotent by name in AWS and moto), policies and subscriptions."""

from __future__ import annotations

import json
from typing import Any

from common.contracts import ResourceType
from sandbox.realise.context import RealiseContext, tag_list

ATTRIBUTES = {
    "displayName": "DisplayName",
    "kmsMasterKeyId": "KmsMasterKeyId",
    "deliveryPolicy": "DeliveryPolicy",
    "policy": "Policy",
}


def topic(ctx: RealiseContext, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    sns = ctx.client("sns")
    topic_name = ctx.physical_name(ResourceType.SNS_TOPIC, name, inputs, max_len=256)
    if inputs.get("fifoTopic") and not topic_name.endswith(".fifo"):
        topic_name += ".fifo"
    attributes = {
        aws_key: (value if isinstance(value, str) else json.dumps(value))
        for key, aws_key in ATTRIBUTES.items()
        if (value := inputs.get(key)) is not None
    }
    if inputs.get("fifoTopic"):
        attributes["FifoTopic"] = "true"
    create: dict[str, Any] = {"Name": topic_name, "Attributes": attributes}
    if inputs.get("tags"):
        create["Tags"] = tag_list(inputs["tags"])
    arn = sns.create_topic(**create)["TopicArn"]
    for key, value in attributes.items():
        if key != "FifoTopic":
            sns.set_topic_attributes(TopicArn=arn, AttributeName=key, AttributeValue=value)
    return arn, {
        **inputs,
        "name": topic_name,
        "arn": arn,
        "owner": arn.split(":")[4],
        "tagsAll": ctx.tags_all(inputs),
    }


def topic_policy(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    policy = inputs["policy"]
    ctx.client("sns").set_topic_attributes(
        TopicArn=inputs["arn"],
        AttributeName="Policy",
        AttributeValue=policy if isinstance(policy, str) else json.dumps(policy),
    )
    return str(inputs["arn"]), {**inputs, "owner": str(inputs["arn"]).split(":")[4]}


def subscription(
    ctx: RealiseContext, name: str, inputs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    sns = ctx.client("sns")
    topic_arn, protocol, endpoint = inputs["topic"], inputs["protocol"], inputs["endpoint"]
    # Subscribe is idempotent for the same (topic, protocol, endpoint), but moto returns
    # 'pending confirmation' for email on repeats; look the existing one up first.
    existing = [
        s
        for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
        if s["Protocol"] == protocol and s["Endpoint"] == endpoint
    ]
    if existing:
        arn = existing[0]["SubscriptionArn"]
    else:
        arn = sns.subscribe(
            TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint, ReturnSubscriptionArn=True
        )["SubscriptionArn"]
    pending = arn == "PendingConfirmation"
    return arn, {
        **inputs,
        "arn": arn,
        "confirmationWasAuthenticated": False,
        "pendingConfirmation": pending,
        "ownerId": str(topic_arn).split(":")[4],
    }


HANDLERS = {
    ResourceType.SNS_TOPIC: topic,
    ResourceType.SNS_TOPIC_POLICY: topic_policy,
    ResourceType.SNS_TOPIC_SUBSCRIPTION: subscription,
}
