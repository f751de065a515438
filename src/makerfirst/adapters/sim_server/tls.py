"""A self-signed certificate for ``sim-server --tls``: HTTPS and WSS on 127.0.0.1.

Coinbase's SDK builds ``https://{base_url}`` URLs (coinbase-advanced-api.md §8), so it only talks to a
server with TLS. The certificate names ``127.0.0.1``, ``::1`` and ``localhost``; a client trusts it
through its CA file (``REQUESTS_CA_BUNDLE`` for the SDK's ``requests``, an ``ssl.SSLContext`` for
WebSockets). It is its own CA (``BasicConstraints(ca=True)``), which is what lets it be the CA file.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALID_DAYS = 30


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The PEM certificate (also the CA file clients trust) and its private key."""

    cert: Path
    key: Path


def write_self_signed(directory: Path, now: dt.datetime | None = None) -> TlsFiles:
    """Write ``cert.pem`` and ``key.pem`` (mode 0600) into ``directory`` and return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    start = now or dt.datetime.now(tz=dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "makerfirst sim-server")])
    names = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
        x509.DNSName("localhost"),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - dt.timedelta(minutes=5))
        .not_valid_after(start + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key_bytes)
    return TlsFiles(cert_path, key_path)
