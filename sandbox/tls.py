"""The sandbox's stand-in for ACM and the load balancer's HTTPS listener: a local CA and its
server certificates.

On AWS the ALB terminates TLS with the ACM certificate `certificateArn` names, a certificate for
the user's own domain (publicBaseUrl's host), trusted because a public CA signed it. Here a CA
made once per stack folder signs a certificate for the names the stand-in certificate is for
(publicBaseUrl's host, unless a test asks for another) plus loopback, and the proxy serves it.
verify is handed the CA as a bundle (never through the process environment) and the address to
reach the host at, since the public host name does not resolve to the sandbox.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sandbox.realise.context import ACCOUNT_ID

LOOPBACK_NAMES = ("localhost", "127.0.0.1")
"""Every sandbox certificate also covers loopback (the proxy's own address)."""
VALID_DAYS = 30
_NAMESPACE = uuid.UUID("6f1c1f1e-2a43-4d59-9c55-7e0f64b1c0de")


def certificate_arn(region: str, stack: str) -> str:
    """The stand-in ACM certificate's ARN: stable per stack and region, in the stack's region
    (ACM certificates of an ALB must be in its region) and moto's account."""
    cert_id = uuid.uuid5(_NAMESPACE, f"{region}/{stack}")
    return f"arn:aws:acm:{region}:{ACCOUNT_ID}:certificate/{cert_id}"


@dataclass(frozen=True)
class IssuedCertificate:
    """Files of one issued server certificate and the CA that signed it."""

    names: tuple[str, ...]
    cert: Path
    key: Path
    ca: Path


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The folder's CA (made on first use, kept so a trusted bundle stays valid)."""
    cert_path, key_path = folder / "ca.pem", folder / "ca-key.pem"
    if cert_path.is_file() and key_path.is_file():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return x509.load_pem_x509_certificate(cert_path.read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "passport sandbox CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS * 12))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def issue(folder: Path, names: list[str] | tuple[str, ...]) -> IssuedCertificate:
    """A server certificate for `names` (+ loopback) signed by the folder's CA."""
    ca_cert, ca_key = _ca(folder)
    wanted = tuple(dict.fromkeys([*names, *LOOPBACK_NAMES]))
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, wanted[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName([_san(n) for n in wanted]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server-key.pem"
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return IssuedCertificate(wanted, cert_path, key_path, folder / "ca.pem")
