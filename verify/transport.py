"""How verify reaches the app: which CAs it trusts, and where a host name really is.

On AWS `api_url` is `https://<publicBaseUrl host>`, a name DNS points at the environment's
CNAME, and the ACM certificate is signed by a public CA: nothing to configure. Two cases need
more, both given explicitly and never through the process environment (REQUESTS_CA_BUNDLE or
SSL_CERT_FILE would reach every other HTTPS client of the process, and `pulumi`):

- a private CA: a CA bundle from `--ca-bundle FILE` or a `ca_bundle` output (PEM text), handed
  to requests as `verify=`;
- the sandbox, whose public host name does not resolve to it: `connect_to` maps
  `host:port` → `127.0.0.1:port`. The connection goes to the mapped address while SNI, the
  `Host` header and the certificate check all use the host name (urllib3's `server_hostname`
  and `assert_hostname` pool settings), so the certificate is judged exactly as on AWS.

A TLS failure is permanent (a wrong certificate does not fix itself): `tls_failure` turns it into
a message that names the host, the names the certificate is for and the fix.
"""

from __future__ import annotations

import socket
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography import x509
from requests.adapters import HTTPAdapter

PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"
DEFAULT_PORTS = {"http": 80, "https": 443}


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return (parts.hostname or ""), parts.port or DEFAULT_PORTS.get(parts.scheme, 80)


@dataclass(frozen=True)
class Transport:
    """Trust and addressing for the app's URL (defaults: the system's CAs, real DNS)."""

    ca_bundle: str | None = None
    """A PEM file of CAs to trust instead of the default ones."""
    connect_to: Mapping[str, str] = field(default_factory=dict)
    """`host:port` → `ip:port` to connect to instead of resolving the host."""

    def address(self, url: str) -> tuple[str, int] | None:
        """The address `url`'s host is reached at, when it is mapped."""
        host, port = _host_port(url)
        target = self.connect_to.get(f"{host}:{port}")
        if not target:
            return None
        ip, _, mapped_port = target.rpartition(":")
        return ip, int(mapped_port)

    def request_kwargs(self) -> dict[str, Any]:
        """`verify=` for each request. Per request, not on the session: requests lets an
        ambient REQUESTS_CA_BUNDLE override a session's `verify` (psf/requests#3829)."""
        return {"verify": self.ca_bundle} if self.ca_bundle else {}

    def session(self) -> requests.Session:
        """A requests session that honours `connect_to` (send with `request_kwargs()`)."""
        session = requests.Session()
        if self.connect_to:
            adapter = ConnectToAdapter(self)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        return session

    def with_ca(self, ca_bundle: str | None) -> Transport:
        """This transport trusting `ca_bundle` instead (None keeps the current one)."""
        if not ca_bundle:
            return self
        return Transport(ca_bundle=ca_bundle, connect_to=dict(self.connect_to))


class ConnectToAdapter(HTTPAdapter):
    """Connects to the mapped address; SNI, Host and the certificate check use the URL's host."""

    def __init__(self, transport: Transport, **kwargs: Any) -> None:
        self.transport = transport
        super().__init__(**kwargs)

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: Any,
        proxies: dict[str, str] | None = None,
        cert: Any = None,
    ) -> Any:
        mapped = self.transport.address(str(request.url))
        if mapped is None:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        host = str(host_params["host"])
        if host_params["scheme"] == "https":
            pool_kwargs = {**pool_kwargs, "server_hostname": host, "assert_hostname": host}
        ip, port = mapped
        return self.poolmanager.connection_from_host(
            ip, port=port, scheme=host_params["scheme"], pool_kwargs=pool_kwargs
        )

    def add_headers(self, request: requests.PreparedRequest, **kwargs: Any) -> None:
        # urllib3 would send the mapped address as Host; the app and the ALB see the name.
        if self.transport.address(str(request.url)) is not None:
            request.headers["Host"] = str(urlsplit(str(request.url)).netloc)


def ca_bundle_file(pem: str, folder: Path | None = None) -> str:
    """A file holding a `ca_bundle` output's PEM text (requests takes a path)."""
    if PEM_CERTIFICATE not in pem:
        raise ValueError("the ca_bundle output must be PEM text (-----BEGIN CERTIFICATE-----)")
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept for the process's lifetime
        "w", suffix=".pem", prefix="verify-ca-", dir=folder, delete=False
    )
    with handle:
        handle.write(pem)
    return handle.name


def certificate_names(url: str, transport: Transport, timeout_s: float = 5.0) -> list[str]:
    """The DNS and IP names the server's certificate is for (read without verifying it).

    Verification is off here only to read the names of a certificate that already failed it,
    so the message can say what the certificate is for; nothing is sent over this connection.
    """
    host, port = _host_port(url)
    address = transport.address(url) or (host, port)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # nosec B502 - reading names, see the docstring
    with (
        socket.create_connection(address, timeout=timeout_s) as sock,
        context.wrap_socket(sock, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    if not der:
        return []
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    names = [*san.get_values_for_type(x509.DNSName)] if san else []
    if san:
        names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    common = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    names += [str(a.value) for a in common]
    return list(dict.fromkeys(names))


def tls_failure(url: str, exc: BaseException, transport: Transport) -> str:
    """Why TLS to `url` failed, the certificate's names, and the fix — one message."""
    host, _ = _host_port(url)
    reason = " ".join(str(exc).split())
    try:
        names = certificate_names(url, transport)
        named = ", ".join(names) if names else "no names"
    except (OSError, ValueError) as read_exc:
        named = f"unreadable ({read_exc})"
    mismatch = "mismatch" in reason.lower() or "doesn't match" in reason.lower()
    if mismatch:
        problem = f"the certificate served for {host} is for {named}, not {host}"
        fix = (
            f"point {host}'s DNS (a CNAME) at the eb_cname output and use an ACM "
            f"certificate (certificateArn) that covers {host}; publicBaseUrl, whose host "
            "api_url uses, must be that name"
        )
    else:
        problem = f"the certificate served for {host} (for {named}) is not trusted"
        fix = (
            "if it is issued by a private CA, pass that CA with --ca-bundle FILE (or a "
            "ca_bundle output); otherwise use a certificate from a public CA (ACM)"
        )
    return f"TLS to {host} failed: {problem} — fix: {fix} ({reason[:300]})"
