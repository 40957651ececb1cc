"""The bundle as an artifact: its digest in the record, its SBOM beside it, and the check that
the artifact bucket still holds the bytes the record says were deployed.

Deployment records say *which* version verified; the sha256 says *which bytes*. A rollback or a
promotion redeploys a bundle from the artifact bucket, so before either (and before an `up` of
a label the stack already knows) the object there is hashed and compared with the record: a
bundle that was replaced or tampered with is refused, naming both digests, and nothing is
deployed. The bucket object also carries S3's own SHA-256 checksum (the program uploads it with
``ChecksumAlgorithm=SHA256``), which S3 verifies on upload.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from app.sbom import sbom_bytes
from app.wheelhouse import sha256_file
from common.aws_errors import error_code
from verify.aws import make_client

from .errors import PipelineError
from .records import DeploymentRecord
from .status import RecordStatus


class ArtifactDigestError(PipelineError):
    """The artifact is not the one the record names (exit 1; nothing was deployed)."""


def bundle_key(label: str) -> str:
    return f"bundles/{label}.zip"


def sbom_key(label: str) -> str:
    return f"bundles/{label}.sbom.json"


def bundle_sha256(path: Path) -> str:
    return sha256_file(Path(path))


def recorded_digest(records: list[DeploymentRecord], label: str) -> str | None:
    """The digest the newest record of `label` carries (None: never recorded with one)."""
    for record in sorted(records, key=lambda r: r.started_at, reverse=True):
        if record.app_version == label and record.bundle_sha256:
            return record.bundle_sha256
    return None


def verified_record(records: list[DeploymentRecord], label: str) -> DeploymentRecord | None:
    """The newest record that deployed `label` and verified it."""
    for record in sorted(records, key=lambda r: r.started_at, reverse=True):
        if record.app_version == label and record.status == RecordStatus.VERIFIED:
            return record
    return None


class ArtifactBucket:
    """A stack's artifact bucket (from its outputs), read and written with the engine's creds."""

    def __init__(self, outputs: Mapping[str, Any], aws_env: Mapping[str, str] | None) -> None:
        self.bucket = outputs.get("artifact_bucket") if outputs else None
        self.aws_env = aws_env
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client("s3", self.aws_env)
        return self._client

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def digest(self, label: str) -> str | None:
        """sha256 of the bytes stored as the label's bundle (None: no such object)."""
        if not self.bucket:
            return None
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=bundle_key(label))["Body"]
        except ClientError as exc:
            if error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise PipelineError(f"cannot read {self.uri(bundle_key(label))}: {exc}") from exc
        digest = hashlib.sha256()
        for chunk in iter(lambda: body.read(1 << 20), b""):
            digest.update(chunk)
        return digest.hexdigest()

    def download(self, label: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client.download_file(self.bucket, bundle_key(label), str(dest))
        except ClientError as exc:
            raise PipelineError(f"bundle {label} is not in {self.uri('bundles/')} ({exc})") from exc
        return dest

    def put_sbom(self, label: str, bundle: Path) -> str:
        """Upload the bundle's CycloneDX SBOM beside it; returns its s3:// address."""
        key = sbom_key(label)
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=sbom_bytes(bundle),
            ContentType="application/vnd.cyclonedx+json",
            ChecksumAlgorithm="SHA256",
        )
        return self.uri(key)


def check_artifact(
    bucket: ArtifactBucket,
    records: list[DeploymentRecord],
    label: str,
    local: Path | None = None,
) -> str | None:
    """Refuse (ArtifactDigestError) a bundle whose bytes differ from its record's digest.

    Checks the object in the artifact bucket and, if given, the local file about to be
    deployed. Returns the recorded digest (None: no record of the label carries one yet).
    """
    expected = recorded_digest(records, label)
    if expected is None:
        return None
    seen = []
    if local is not None:
        seen.append((str(local), bundle_sha256(local)))
    stored = bucket.digest(label)
    if stored is not None:
        seen.append((bucket.uri(bundle_key(label)), stored))
    for where, actual in seen:
        if actual != expected:
            raise ArtifactDigestError(
                f"bundle {label} was replaced or tampered with: {where} has sha256 {actual}, "
                f"its deployment record says {expected}; refused, nothing was deployed"
            )
    return expected
