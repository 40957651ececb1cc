"""Which instance answered: the EC2 instance id (IMDSv2) on AWS, ``INSTANCE_ID`` elsewhere.

The sandbox sets ``INSTANCE_ID`` for each app process of its fleet. On EC2 the id comes from
the instance metadata service with a session token (IMDSv2: the environment disables v1), with
short timeouts, once per worker: `/health` must never wait on it.
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request

IMDS = "http://169.254.169.254"
TIMEOUT_S = 0.3

_lock = threading.Lock()
_cached: list[str | None] = []


def _from_imds() -> str | None:
    try:
        token_req = urllib.request.Request(  # noqa: S310 - fixed link-local IMDS address
            f"{IMDS}/latest/api/token",
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
        )
        with urllib.request.urlopen(token_req, timeout=TIMEOUT_S) as resp:  # noqa: S310  # nosec B310
            token = resp.read().decode()
        id_req = urllib.request.Request(  # noqa: S310
            f"{IMDS}/latest/meta-data/instance-id",
            headers={"X-aws-ec2-metadata-token": token},
        )
        with urllib.request.urlopen(id_req, timeout=TIMEOUT_S) as resp:  # noqa: S310  # nosec B310
            return resp.read().decode().strip() or None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def instance_id() -> str | None:
    """The answering instance's id; None when neither source knows (cached either way)."""
    if _cached:
        return _cached[0]
    with _lock:
        if not _cached:
            _cached.append(os.environ.get("INSTANCE_ID") or _from_imds())
    return _cached[0]
