"""verify over HTTPS (issue 21, item 1): a TLS failure stops at once naming the host, the
certificate's names and the fix; a CA bundle and a host → address mapping are honoured without
touching the process environment.

A local HTTPS server plays the load balancer, with certificates from the sandbox's own CA
(sandbox/tls.py); it counts the TCP connections it accepts, so a retry would show.
"""

from __future__ import annotations

import http.server
import os
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from common.polling import Backoff, Deadline
from sandbox.tls import issue
from verify import with_outputs_ca
from verify.http import HttpClient
from verify.model import TlsFailed
from verify.transport import Transport, certificate_names

pytestmark = pytest.mark.slow  # starts a local HTTPS server

HOST = "api-staging.passportphoto.example.com"
#: Enough attempts that a retried TLS failure could not go unnoticed.
MANY = Backoff(attempts=6, base_s=0.01, factor=1.0, max_s=0.01)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = self.headers.get("Host", "").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class CountingServer(http.server.ThreadingHTTPServer):
    """Counts TCP connections before the TLS handshake (a refused handshake counts too)."""

    connections = 0
    context: ssl.SSLContext

    def get_request(self):  # type: ignore[no-untyped-def]
        conn, addr = super().get_request()
        self.connections += 1
        return self.context.wrap_socket(conn, server_side=True), addr


@contextmanager
def https_server(folder: Path, names: list[str]) -> Iterator[tuple[CountingServer, Path]]:
    """An HTTPS server on loopback with a certificate for `names`; yields it and its CA file."""
    cert = issue(folder, names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert.cert, cert.key)
    server = CountingServer(("127.0.0.1", 0), Handler)
    server.context = context
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, cert.ca
    finally:
        server.shutdown()
        server.server_close()


def mapped(server: CountingServer, ca: Path | None) -> Transport:
    return Transport(
        ca_bundle=str(ca) if ca else None,
        connect_to={f"{HOST}:443": f"127.0.0.1:{server.server_address[1]}"},
    )


def test_a_mapped_host_is_reached_with_its_name_for_sni_host_and_the_check(
    tmp_path: Path,
) -> None:
    with https_server(tmp_path, [HOST]) as (server, ca):
        client = HttpClient(f"https://{HOST}", Deadline(10), transport=mapped(server, ca))
        resp = client.get("/health")
    assert resp.status_code == 200
    assert resp.text == HOST  # the Host header names the host, not the address


def test_a_certificate_for_another_host_fails_at_once_naming_both(tmp_path: Path) -> None:
    """Without the fix SSLError (a ConnectionError) was retried until the deadline."""
    with https_server(tmp_path, ["www.example.org"]) as (server, ca):
        client = HttpClient(
            f"https://{HOST}", Deadline(30), backoff=MANY, transport=mapped(server, ca)
        )
        with pytest.raises(TlsFailed) as info:
            client.get("/health")
        # one connection for the request, one to read the certificate's names: no retry
        assert server.connections == 2
    message = str(info.value)
    assert f"TLS to {HOST} failed" in message
    assert "www.example.org" in message and f"not {HOST}" in message
    assert "eb_cname" in message and "certificateArn" in message  # the fix


def test_an_untrusted_ca_fails_at_once_and_names_the_ca_bundle_option(tmp_path: Path) -> None:
    with https_server(tmp_path, [HOST]) as (server, _ca):
        client = HttpClient(
            f"https://{HOST}", Deadline(30), backoff=MANY, transport=mapped(server, None)
        )
        with pytest.raises(TlsFailed) as info:
            client.get("/health")
        assert server.connections == 2
    assert "not trusted" in str(info.value) and "--ca-bundle FILE" in str(info.value)


def test_the_ca_bundle_wins_over_an_ambient_requests_ca_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests lets REQUESTS_CA_BUNDLE override a session's verify (psf/requests#3829): the
    bundle goes with each request, and verify never writes the environment itself."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "no-such-bundle.pem"))
    before = dict(os.environ)
    with https_server(tmp_path, [HOST]) as (server, ca):
        client = HttpClient(f"https://{HOST}", Deadline(10), transport=mapped(server, ca))
        assert client.get("/health").status_code == 200
    assert dict(os.environ) == before


def test_a_ca_bundle_output_is_trusted_unless_one_was_given(tmp_path: Path) -> None:
    pem = issue(tmp_path, [HOST]).ca.read_text()
    from_outputs = with_outputs_ca(Transport(), {"ca_bundle": pem})
    assert from_outputs.ca_bundle and Path(from_outputs.ca_bundle).read_text() == pem
    given = Transport(ca_bundle="/given.pem")
    assert with_outputs_ca(given, {"ca_bundle": pem}) is given
    assert with_outputs_ca(Transport(), {}).ca_bundle is None


def test_the_sandbox_certificate_names_the_host_and_loopback(tmp_path: Path) -> None:
    with https_server(tmp_path, [HOST]) as (server, _ca):
        names = certificate_names(f"https://{HOST}", mapped(server, None))
    assert names[:3] == [HOST, "localhost", "127.0.0.1"]
