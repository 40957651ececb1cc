"""Team notifications: where the pipeline's messages go (`notifications`) and on which events
(`notifyOn`).

`notifications` is a list of Apprise URLs (Slack, Microsoft Teams workflows, email, generic
JSON webhooks: https://github.com/caronc/apprise/wiki). Such a URL carries the channel's token,
so the stack file holds it as a Pulumi secret (`pulumi config set --secret notifications
'[...]'`, stored `{secure: v1:…}`): parsing the file accepts the encrypted value unread (the
automation decrypts it through the Pulumi CLI at run time); a plain list (the sandbox, which
cannot decrypt) is checked entry by entry, and a problem never quotes the URL.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from typing import Any

from components.config.model import NotificationTargets
from components.config.schema import Context, Invalid

#: What the pipeline can announce (automation/notify.py sends them).
NOTIFY_EVENTS = ("started", "succeeded", "failed", "rolled_back", "blocked", "interrupted")
#: Problems only, unless the stack asks for more: a channel that hears every run stops being read.
DEFAULT_NOTIFY_ON = ["failed", "rolled_back", "blocked", "interrupted"]
NOTIFY_ON_ALLOWED = "a list of " + ", ".join(NOTIFY_EVENTS)
NOTIFICATIONS_ALLOWED = (
    "a list of Apprise URLs (scheme://…, e.g. slack://…, workflows://…, mailto://…, "
    "json://host/path), set as a Pulumi secret (`pulumi config set --secret`)"
)
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+")

Issue = tuple[str, str, str]


def parse_notifications(raw: Any) -> tuple[NotificationTargets | None, list[Issue]]:
    """`notifications` -> (targets, issues); an encrypted value is accepted unread."""
    if raw is None:
        return NotificationTargets(), []
    if isinstance(raw, Mapping) and set(raw) == {"secure"}:
        return NotificationTargets(encrypted=True), []
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            raw = json.loads(raw)
    if not isinstance(raw, list):
        return None, [("notifications", "[secret]", NOTIFICATIONS_ALLOWED)]
    bad = [
        f"entry {index}"
        for index, url in enumerate(raw)
        if not isinstance(url, str) or not _URL.fullmatch(url.strip())
    ]
    if bad:  # never the value: it holds the channel's token
        return None, [
            ("notifications", f"[secret] ({', '.join(bad)} not a URL)", NOTIFICATIONS_ALLOWED)
        ]
    return NotificationTargets(urls=tuple(url.strip() for url in raw)), []


def known_events(value: list[str], ctx: Context) -> tuple[str, ...]:
    """`notifyOn`: each an event the pipeline announces, none twice."""
    unknown = [event for event in value if event not in NOTIFY_EVENTS]
    if unknown or len(set(value)) != len(value):
        raise Invalid(NOTIFY_ON_ALLOWED + " (each once)")
    return tuple(value)
