"""Keys and certificates the local cloud makes for itself: a CA standing for the Google-managed CAs of
Memorystore and Cloud SQL, server certificates it signs for 127.0.0.1, and the RSA key of the local issuer that
stands for Google's token service. Kept in the data directory so a restart keeps trusting the same CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

_PEM = serialization.Encoding.PEM
_PKCS8 = serialization.PrivateFormat.PKCS8
_NONE = serialization.NoEncryption()


def _load_or_make_key(path: Path, make) -> object:
    if path.is_file():
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    key = make()
    path.write_bytes(key.private_bytes(_PEM, _PKCS8, _NONE))
    path.chmod(0o600)
    return key


@dataclass
class ServerCert:
    cert_file: Path
    key_file: Path


class LocalPki:
    """The local CA (``ca.pem``) and the local Google issuer key (``issuer.pem``) under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        self.ca_key = _load_or_make_key(directory / "ca-key.pem", lambda: ec.generate_private_key(ec.SECP256R1()))
        ca_file = directory / "ca.pem"
        if not ca_file.is_file():
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "grid local cloud CA")])
            now = dt.datetime.now(dt.UTC)
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(self.ca_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(
                    x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
                )
                .sign(self.ca_key, hashes.SHA256())
            )
            ca_file.write_bytes(cert.public_bytes(_PEM))
        self.ca_pem = ca_file.read_text()
        self.ca_file = ca_file
        self.issuer_key = _load_or_make_key(
            directory / "issuer.pem", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )

    def server_cert(self, name: str, *, subject: str | None = None) -> ServerCert:
        """A server certificate for 127.0.0.1 and localhost, signed by the local CA (made once per name).

        With ``subject``, a certificate like a Cloud SQL instance's instead: that common name and no
        subject-alternative name, so a client connecting by address can verify the chain (verify-ca) but not a
        name (verify-full fails, as it does against Cloud SQL; components/database.py CLOUD_SQL_SSLMODE).
        """
        cert_file, key_file = self.directory / f"{name}.crt", self.directory / f"{name}.key"
        if not cert_file.is_file():
            key = ec.generate_private_key(ec.SECP256R1())
            key_file.write_bytes(key.private_bytes(_PEM, _PKCS8, _NONE))
            key_file.chmod(0o600)
            ca = x509.load_pem_x509_certificate(self.ca_pem.encode())
            now = dt.datetime.now(dt.UTC)
            builder = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject or name)]))
                .issuer_name(ca.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=825))
            )
            if subject is None:
                builder = builder.add_extension(
                    x509.SubjectAlternativeName(
                        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                    ),
                    critical=False,
                )
            cert = builder.sign(self.ca_key, hashes.SHA256())
            cert_file.write_bytes(cert.public_bytes(_PEM))
        return ServerCert(cert_file, key_file)


def new_private_key(algorithm: str, curve: str = "P256", rsa_bits: int = 2048) -> dict[str, str]:
    """What the `tls` provider's PrivateKey outputs, for a fresh key of the plan's algorithm."""
    if algorithm == "ECDSA":
        curves = {"P224": ec.SECP224R1, "P256": ec.SECP256R1, "P384": ec.SECP384R1, "P521": ec.SECP521R1}
        key = ec.generate_private_key(curves[curve]())
        traditional = key.private_bytes(_PEM, serialization.PrivateFormat.TraditionalOpenSSL, _NONE)
    elif algorithm == "RSA":
        key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        traditional = key.private_bytes(_PEM, serialization.PrivateFormat.TraditionalOpenSSL, _NONE)
    else:
        raise ValueError(f"the local cloud makes ECDSA and RSA keys, not {algorithm}")
    return {
        "privateKeyPem": traditional.decode(),
        "privateKeyPemPkcs8": key.private_bytes(_PEM, _PKCS8, _NONE).decode(),
        "publicKeyPem": key.public_key().public_bytes(_PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
    }
