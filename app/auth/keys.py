"""The access-token signing key: from JWT_SIGNING_KEY (Secret Manager) or generated once into a local file."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from app.auth.settings import AuthSettings


@dataclass(frozen=True)
class SigningKey:
    private_key: ec.EllipticCurvePrivateKey
    kid: str
    public_jwk: dict[str, Any]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    jwk = ECAlgorithm.to_jwk(public_key, as_dict=True)
    # RFC 7638 thumbprint: a stable key id, so rotating the key rotates the kid.
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    kid = _b64(hashlib.sha256(canonical.encode()).digest())
    return {**jwk, "kid": kid, "alg": "ES256", "use": "sig"}


def signing_key_from_pem(pem: bytes) -> SigningKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("the signing key must be an EC P-256 private key (ES256)")
    jwk = _public_jwk(key.public_key())
    return SigningKey(key, jwk["kid"], jwk)


_PEM_END = "-----END PUBLIC KEY-----"


def previous_public_jwks(pems: str) -> list[dict[str, Any]]:
    """JWKs of the concatenated PEM public keys in JWT_PREVIOUS_PUBLIC_KEYS (earlier signing-key generations
    still published while tokens they signed live); a key that is not EC P-256 stops the start."""
    found = []
    for number, block in enumerate((b for b in pems.split(_PEM_END) if b.strip()), start=1):
        try:
            key = serialization.load_pem_public_key(f"{block.strip()}\n{_PEM_END}\n".encode())
        except ValueError:
            raise ValueError(
                f"JWT_PREVIOUS_PUBLIC_KEYS: key {number} is not a PEM public key (-----BEGIN PUBLIC KEY-----)"
            ) from None
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise ValueError(f"JWT_PREVIOUS_PUBLIC_KEYS: key {number} must be an EC P-256 public key (ES256)")
        found.append(_public_jwk(key))
    return found


def generate_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_or_create(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = generate_pem()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    try:
        # link() fails if another process created the key first; then that key wins and everyone uses it.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes()


def load_signing_key(settings: AuthSettings) -> SigningKey:
    if settings.jwt_signing_key is not None:
        return signing_key_from_pem(settings.jwt_signing_key.get_secret_value().encode())
    assert settings.jwt_key_file is not None
    return signing_key_from_pem(_load_or_create(settings.jwt_key_file))
