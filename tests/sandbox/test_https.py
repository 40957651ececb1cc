"""The sandbox serves HTTPS for a stack with a certificate, and verify passes over it (issue 21).

The committed staging example, deployed with `--https` (a stand-in ACM certificate as
certificateArn): its load balancer terminates TLS with a certificate for publicBaseUrl's host,
api_url is `https://<that host>`, and `python -m verify` reaches it through the CA and the
listener addresses the sandbox hands over in its state. With a certificate for another host,
verify stops at once, naming the host, the certificate's names and the fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.engine import SandboxEngine
from sandbox.tls import issue
from tests.support.cli_runner import run_module
from verify.outputs import sandbox_transport

pytestmark = pytest.mark.slow

STACK = "staging"
HOST = "api-staging.passportphoto.example.com"


def up(state_root: Path, certificate_host: str | None = None) -> dict[str, Any]:
    engine = SandboxEngine(
        STACK, state_root=state_root, https=True, certificate_host=certificate_host
    )
    return engine.up()


def verify(state_root: Path, tmp_path: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    report = tmp_path / "report"
    result = run_module(
        "verify",
        "--stack",
        STACK,
        "--state-root",
        str(state_root),
        "--report-dir",
        str(report),
        *args,
        timeout=300,
    )
    data = json.loads((report / "verify.json").read_text())
    return result.returncode, {c["name"]: c for c in data["checks"]}, result.stderr


def test_verify_passes_over_https_against_the_certificate_for_public_base_url(
    state_root: Path, tmp_path: Path
) -> None:
    outputs = up(state_root)
    assert outputs["api_url"] == f"https://{HOST}"
    assert outputs["eb_cname"].startswith("127.0.0.1:")  # the sandbox's CNAME: its balancer
    code, checks, stderr = verify(state_root, tmp_path, "--only", "health,cors,api,s3")
    assert code == 0, {name: c["message"] for name, c in checks.items()} or stderr
    assert checks["readiness"]["status"] == "PASSED"
    # The app redirects every non-health request that reached it over plain HTTP
    # (FORCE_HTTPS), so cors and api passing means they went through the TLS listener.
    assert checks["api"]["status"] == checks["cors"]["status"] == "PASSED"


def test_plain_http_on_the_public_host_gets_the_apps_redirect(state_root: Path) -> None:
    up(state_root)
    transport = sandbox_transport(STACK, state_root)
    session = transport.session()
    resp = session.get(
        f"http://{HOST}/v1/email/verify?token=x",
        allow_redirects=False,
        timeout=30,
        **transport.request_kwargs(),
    )
    assert resp.status_code == 308
    assert resp.headers["Location"] == f"https://{HOST}/v1/email/verify?token=x"


def test_a_certificate_for_another_host_fails_verify_at_once_naming_it(
    state_root: Path, tmp_path: Path
) -> None:
    up(state_root, certificate_host="www.example.org")
    try:
        # The whole run is bounded to 10 s: a retried TLS failure would end as readiness
        # ERROR (timed out), not FAILED with the TLS message.
        code, checks, _ = verify(state_root, tmp_path, "--only", "health", "--timeout", "10")
    finally:
        up(state_root)  # the certificate for the right host again, for the other tests
    readiness = checks["readiness"]
    assert code == 1
    assert readiness["status"] == "FAILED", readiness
    message = readiness["message"]
    assert f"TLS to {HOST} failed" in message and "www.example.org" in message
    assert "eb_cname" in message  # the fix: point the host's DNS at the CNAME
    assert checks["health"]["status"] == "SKIPPED"


def test_a_ca_bundle_from_the_command_line_is_the_one_trusted(
    state_root: Path, tmp_path: Path
) -> None:
    """`--ca-bundle FILE` wins over the sandbox's CA: another CA's bundle fails the TLS check
    (named as untrusted), so the option is really what requests verifies with."""
    up(state_root)
    other = issue(tmp_path / "other-ca", ["somewhere.example.net"]).ca
    code, checks, _ = verify(
        state_root, tmp_path, "--only", "health", "--timeout", "30", "--ca-bundle", str(other)
    )
    assert code == 1
    assert checks["readiness"]["status"] == "FAILED"
    assert "not trusted" in checks["readiness"]["message"]
    assert "--ca-bundle FILE" in checks["readiness"]["message"]
