"""Local stand-ins for what the Pulumi program creates, for tests and benchmarks on moto.

Schemas follow docs/contracts.md exactly (email table pk ``email`` + GSI ``token-hash-index`` +
TTL ``expires_at``; analytics pk ``event_id`` + TTL ``expires_at``), so the app sees what it
sees on AWS. Not part of the bundle (bundle.py allowlists what ships).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import boto3

from common.procfile import HEALTH_PATH, HealthTimeout, ProcessExited, wait_healthy, web_argv

BENCH_APP_ENV: dict[str, str] = {
    "EMAIL_TABLE": "bench-emails",
    "ANALYTICS_TABLE": "bench-analytics",
    "MEDIA_BUCKET": "bench-media",
    "SENDER_EMAIL": "bench@example.com",
    "REMBG_MODEL": "u2netp",
    "U2NET_HOME": "models",
    "MAX_UPLOAD_MB": "10",
    "AWS_REGION": "us-east-1",
    "PUBLIC_BASE_URL": "https://photos.example.com",
    "ALLOWED_HOSTS": "localhost,127.0.0.1",
}
"""The app's environment for local benchmark runs (tables, bucket and sender on moto)."""


def ensure_app_resources(env: Mapping[str, str]) -> None:
    """Create the tables, bucket, SES identity and configuration set named in ``env`` (the
    app's environment variables) unless they exist. Idempotent and cheap."""
    dynamodb = boto3.client("dynamodb")
    existing = set(dynamodb.list_tables()["TableNames"])
    if env["EMAIL_TABLE"] not in existing:
        dynamodb.create_table(
            TableName=env["EMAIL_TABLE"],
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "email", "AttributeType": "S"},
                {"AttributeName": "token_hash", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "email", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "token-hash-index",
                    "KeySchema": [{"AttributeName": "token_hash", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        dynamodb.update_time_to_live(
            TableName=env["EMAIL_TABLE"],
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
        )
    if env["ANALYTICS_TABLE"] not in existing:
        dynamodb.create_table(
            TableName=env["ANALYTICS_TABLE"],
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "event_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "event_id", "KeyType": "HASH"}],
        )
        dynamodb.update_time_to_live(
            TableName=env["ANALYTICS_TABLE"],
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
        )
    s3 = boto3.client("s3")
    buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if env["MEDIA_BUCKET"] not in buckets:
        s3.create_bucket(Bucket=env["MEDIA_BUCKET"])
    ses = boto3.client("ses")
    ses.verify_email_identity(EmailAddress=env["SENDER_EMAIL"])
    wanted_set = env.get("SES_CONFIGURATION_SET")
    if wanted_set:
        sets = {c["Name"] for c in ses.list_configuration_sets().get("ConfigurationSets", [])}
        if wanted_set not in sets:
            ses.create_configuration_set(ConfigurationSet={"Name": wanted_set})


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the bundle's process group, SIGKILL it after 30 s. A group that already exited
    (gunicorn failed to boot) is not an error: the caller is raising the reason already."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        proc.wait()
        return
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextmanager
def serve_bundle(
    bundle_root: Path, env: Mapping[str, str], port: int, log_path: Path, timeout: float = 120
) -> Iterator[str]:
    """Run an unpacked bundle the way EB does (its Procfile, PORT set); yield its base URL once
    /health answers 200; stop the whole process group afterwards.

    The Procfile and the health wait are common/procfile.py's, the sandbox's environments use
    the same, so a bundle that serves here serves there.
    """
    full_env = {
        **os.environ,
        **env,
        "PORT": str(port),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    full_env.pop("PYTHONPATH", None)  # the bundle must be self-contained
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(  # noqa: S603 - the bundle's own Procfile command
            web_argv(bundle_root, full_env),
            cwd=bundle_root,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            try:
                wait_healthy(url, timeout=timeout, alive=lambda: proc.poll() is None, interval=0.5)
            except ProcessExited:
                raise RuntimeError(
                    f"gunicorn exited {proc.returncode}:\n{log_path.read_text()[-4000:]}"
                ) from None
            except HealthTimeout:
                raise TimeoutError(
                    f"{url}{HEALTH_PATH} not 200 within {timeout}s:\n{log_path.read_text()[-4000:]}"
                ) from None
            yield url
        finally:
            _stop_group(proc)
