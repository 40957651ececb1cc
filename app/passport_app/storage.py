"""Where results go: the processed photo in the media bucket, an event in the analytics table."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from .aws import AwsClients
from .config import Settings


def new_photo_key(fmt: str, now: datetime | None = None) -> str:
    """``photos/<format>/YYYY/MM/DD/<uuid>.jpg``: date prefixes keep listings cheap."""
    now = now or datetime.now(UTC)
    return f"photos/{fmt}/{now:%Y/%m/%d}/{uuid.uuid4().hex}.jpg"


def store_photo(
    clients: AwsClients, settings: Settings, key: str, jpeg: bytes, metadata: dict[str, str]
) -> None:
    clients.s3.put_object(
        Bucket=settings.media_bucket,
        Key=key,
        Body=jpeg,
        ContentType="image/jpeg",
        Metadata=metadata,
    )


def delete_photo(clients: AwsClients, settings: Settings, key: str) -> None:
    clients.s3.delete_object(Bucket=settings.media_bucket, Key=key)


def record_event(
    clients: AwsClients, settings: Settings, event_type: str, **fields: str | int | float
) -> str:
    """Write one analytics event (pk ``event_id``); returns its id.

    ``expires_at`` is the analytics table's TTL attribute: events are deleted by DynamoDB
    ANALYTICS_TTL_DAYS after they happen instead of piling up forever.
    """
    event_id = uuid.uuid4().hex
    now = int(time.time())
    item: dict[str, Any] = {
        "event_id": {"S": event_id},
        "type": {"S": event_type},
        "created_at": {"N": str(now)},
        "expires_at": {"N": str(now + settings.analytics_ttl_days * 86400)},
        "app_version": {"S": settings.app_version},
    }
    for name, value in fields.items():
        item[name] = {"N": str(value)} if isinstance(value, int | float) else {"S": str(value)}
    clients.dynamodb.put_item(TableName=settings.analytics_table, Item=item)
    return event_id
