"""Deployment records: what was deployed, when, from which commit, and whether it verified.

Pulumi has no native rollback (pulumi/pulumi#96), so rollback means "roll forward to the last
version that verified". These records are where that version is found. Real stacks keep them in
the artifact bucket (they outlive any CI runner); the sandbox keeps them in its state folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import boto3

from common.jsonfile import read_json, write_json_atomic
from common.pids import running

from .status import RecordKind, RecordStatus


@dataclass
class DeploymentRecord:
    """One pipeline deployment of one stack."""

    stack: str
    app_version: str
    engine: str
    kind: RecordKind = RecordKind.DEPLOY
    status: RecordStatus = RecordStatus.IN_PROGRESS
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    commit: str = ""
    commit_time: float | None = None  # the commit's time (git / the GitHub event): lead time
    branch: str = ""
    actor: str = ""
    verify_summary: dict[str, Any] = field(default_factory=dict)
    rollback_version: str | None = None  # set on a failed deploy: the version it was rolled to
    message: str = ""
    canary: dict[str, Any] = field(default_factory=dict)
    """The canary's decision, reason and score, and the bake's (empty without a canary)."""
    run_id: str = ""  # the run's report folder, reports/<stack>/<run_id>/
    bundle_sha256: str = ""  # the deployed bundle's bytes (automation/artifacts.py checks them)
    sbom: str = ""  # s3://<artifact bucket>/bundles/<label>.sbom.json (CycloneDX)
    promoted_from: str = ""  # `promote`: the stack that verified this very artifact
    pid: int = field(default_factory=os.getpid)  # who writes it: a stale in_progress is found
    host: str = field(default_factory=socket.gethostname)

    def __post_init__(self) -> None:
        # Records read back from JSON carry the plain words; an unknown one is a ValueError.
        self.kind = RecordKind(self.kind)
        self.status = RecordStatus(self.status)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeploymentRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


class RecordStore(Protocol):
    def save(self, record: DeploymentRecord) -> None: ...
    def list(self) -> list[DeploymentRecord]: ...


def last_verified(records: list[DeploymentRecord], exclude: str | None = None) -> str | None:
    """The most recent app version that passed verification (optionally not `exclude`)."""
    for record in sorted(records, key=lambda r: r.started_at, reverse=True):
        if record.status == RecordStatus.VERIFIED and record.app_version != exclude:
            return record.app_version
    return None


def reap_stale(
    store: RecordStore, *, alive: Callable[[int], bool] = running
) -> list[DeploymentRecord]:
    """Mark `in_progress` records whose process is gone (SIGKILL, a lost runner) interrupted.

    Only records written on this host can be judged; others are left alone. Returns the ones
    it changed, so the caller can say what it cleaned.
    """
    reaped = []
    for record in store.list():
        if record.status != RecordStatus.IN_PROGRESS or record.host != socket.gethostname():
            continue
        if record.pid == os.getpid() or alive(record.pid):
            continue
        record.status = RecordStatus.INTERRUPTED
        record.finished_at = record.finished_at or time.time()
        record.message = (
            f"found in progress by a later command; its process (pid {record.pid}) is gone "
            "(killed?)" + (f"; {record.message}" if record.message else "")
        )
        store.save(record)
        reaped.append(record)
    return reaped


class FileRecordStore:
    """Records as one JSON file (the sandbox's state folder). Thread-safe within a process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def list(self) -> list[DeploymentRecord]:
        return [DeploymentRecord.from_dict(item) for item in read_json(self.path, default=[])]

    def save(self, record: DeploymentRecord) -> None:
        with self._lock:
            records = {r.id: r for r in self.list()}
            records[record.id] = record
            ordered = sorted(records.values(), key=lambda r: r.started_at)
            write_json_atomic(self.path, [r.to_dict() for r in ordered])


class ArchivedRecordStore:
    """A live store plus an exported archive: what outlives `destroy` of a real stack.

    `destroy` exports the live records (the artifact bucket goes with the stack); `list` shows
    the archive and the live records together, so a new stack of the same name continues the
    history, and new records go to the live store.
    """

    def __init__(self, live: RecordStore | None, archive: Path) -> None:
        self.live = live
        self.archive = FileRecordStore(archive)

    def list(self) -> list[DeploymentRecord]:
        merged = {r.id: r for r in self.archive.list()}
        if self.live is not None:
            merged.update({r.id: r for r in self.live.list()})
        return sorted(merged.values(), key=lambda r: r.started_at)

    def save(self, record: DeploymentRecord) -> None:
        (self.live or self.archive).save(record)

    def export(self) -> int:
        """Copy every live record into the archive; returns how many there are now."""
        records = self.list()
        for record in records:
            self.archive.save(record)
        return len(records)


class S3RecordStore:
    """Records as JSON objects under deployments/<stack>/ in the stack's artifact bucket."""

    def __init__(self, bucket: str, stack: str, client: Any | None = None) -> None:
        self.bucket = bucket
        self.prefix = f"deployments/{stack}/"
        self.client = client or boto3.client("s3")

    def save(self, record: DeploymentRecord) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=f"{self.prefix}{record.id}.json",
            Body=json.dumps(record.to_dict(), indent=2).encode(),
            ContentType="application/json",
        )

    def list(self) -> list[DeploymentRecord]:
        records = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                body = self.client.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
                records.append(DeploymentRecord.from_dict(json.loads(body)))
        return sorted(records, key=lambda r: r.started_at)


def git_context(cwd: Path) -> dict[str, Any]:
    """Commit (and its time), branch and actor for a record: from GitHub Actions' env and
    event, else from git itself. The commit time is what lead time for changes starts from."""
    env = os.environ
    commit = env.get("GITHUB_SHA") or _git(cwd, "rev-parse", "HEAD")
    branch = (
        env.get("GITHUB_HEAD_REF")
        or env.get("GITHUB_REF_NAME")
        or _git(cwd, "rev-parse", "--abbrev-ref", "HEAD")
    )
    actor = env.get("GITHUB_ACTOR") or env.get("USER", "")
    return {
        "commit": commit,
        "commit_time": commit_time(cwd, commit),
        "branch": branch,
        "actor": actor,
    }


def commit_time(cwd: Path, commit: str) -> float | None:
    """When `commit` was made: the GitHub event's head commit (a push), else `git show`."""
    event_path = os.environ.get("GITHUB_EVENT_PATH")
    if event_path:
        try:
            head = (read_json(Path(event_path), default={}) or {}).get("head_commit") or {}
        except (OSError, ValueError):
            head = {}
        if head.get("id") == commit and head.get("timestamp"):
            with contextlib.suppress(ValueError):
                return datetime.fromisoformat(str(head["timestamp"])).timestamp()
    if not commit:
        return None
    stamp = _git(cwd, "show", "-s", "--format=%ct", commit)
    return float(stamp) if stamp.isdigit() else None


def _git(cwd: Path, *args: str) -> str:
    try:
        out = subprocess.run(  # noqa: S603 - fixed git invocation
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""
