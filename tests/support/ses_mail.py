"""What moto's SES accepted: the mails the app sent, read back the way a mailbox would see them."""

from __future__ import annotations

import json
import urllib.request


def sent_messages(endpoint: str, to: str) -> list[dict]:
    """Messages moto's SES accepted for ``to`` (its /moto-api/data.json view)."""
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=10) as resp:  # noqa: S310
        data = json.load(resp)
    return [m for m in data["ses"]["Message"] if to in m["destinations"]["ToAddresses"]]
