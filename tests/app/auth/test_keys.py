from __future__ import annotations

import asyncio
import stat
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from app.auth.keys import generate_pem, load_signing_key, previous_public_jwks, signing_key_from_pem
from app.auth.service import AuthService
from app.auth.settings import AuthSettings
from app.common.security import InvalidToken, StaticKeys, TokenVerifier

DB = "postgresql://u@/db"


def test_local_key_is_generated_once_private_and_reused(tmp_path):
    path = tmp_path / "keys" / "signing.pem"
    settings = AuthSettings(DATABASE_URL=DB, JWT_KEY_FILE=path)
    first = load_signing_key(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = load_signing_key(settings)
    assert first.kid == second.kid
    assert "d" not in first.public_jwk


def test_secret_manager_key_wins_over_the_file(tmp_path):
    pem = generate_pem().decode()
    settings = AuthSettings(DATABASE_URL=DB, JWT_SIGNING_KEY=pem, JWT_KEY_FILE=tmp_path / "unused.pem")
    assert load_signing_key(settings).kid == signing_key_from_pem(pem.encode()).kid
    assert not (tmp_path / "unused.pem").exists()


def test_non_p256_keys_are_refused():
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="P-256"):
        signing_key_from_pem(rsa_pem)


def test_cloud_environments_require_the_secret(tmp_path):
    with pytest.raises(ValidationError, match="JWT_SIGNING_KEY is required"):
        AuthSettings(DATABASE_URL=DB, ENVIRONMENT="prod", JWT_KEY_FILE=tmp_path / "k.pem")
    with pytest.raises(ValidationError):
        AuthSettings(DATABASE_URL=DB, ENVIRONMENT="local")


# --- rotation: an earlier generation's public key stays published (grid:signingKey, JWT_PREVIOUS_PUBLIC_KEYS) ---


def _public_pem(private_pem: bytes) -> str:
    key = serialization.load_pem_private_key(private_pem, password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _service(current: bytes, previous: str) -> AuthService:
    settings = AuthSettings(DATABASE_URL=DB, JWT_SIGNING_KEY=current.decode(), JWT_PREVIOUS_PUBLIC_KEYS=previous)
    key = load_signing_key(settings)
    return AuthService(settings, None, None, key, None, previous_public_jwks(settings.jwt_previous_public_keys))  # type: ignore[arg-type]


def test_a_token_the_previous_generation_signed_verifies_after_the_switch():
    old_pem, new_pem = generate_pem(), generate_pem()
    before = _service(old_pem, "")
    token = before.access_token(uuid.uuid4(), uuid.uuid4())
    # The rotation: the new key signs, the old one's public half (as the stack hands it: PEM, newline-ended) is
    # still published, so the token signed a moment before the switch verifies until it expires.
    after = _service(new_pem, _public_pem(old_pem))
    kids = [k["kid"] for k in after.jwks()["keys"]]
    assert kids == [signing_key_from_pem(new_pem).kid, signing_key_from_pem(old_pem).kid]
    assert all("d" not in k for k in after.jwks()["keys"])
    verifier = TokenVerifier(
        StaticKeys(after.jwks()), issuer=after.settings.jwt_issuer, audience=after.settings.jwt_audience
    )
    asyncio.run(verifier.verify(token))
    # Without the previous key published (the rotation's last step), that token no longer verifies.
    finished = _service(new_pem, "")
    strict = TokenVerifier(
        StaticKeys(finished.jwks()), issuer=finished.settings.jwt_issuer, audience=finished.settings.jwt_audience
    )
    with pytest.raises(InvalidToken):
        asyncio.run(strict.verify(token))
    # New tokens carry the new key's id.
    assert jwt.get_unverified_header(after.access_token(uuid.uuid4(), uuid.uuid4()))["kid"] == kids[0]


def test_several_previous_keys_concatenated_and_the_signing_key_not_twice():
    first, second, current = generate_pem(), generate_pem(), generate_pem()
    pems = _public_pem(first) + _public_pem(second) + _public_pem(current)
    assert [k["kid"] for k in previous_public_jwks(pems)] == [
        signing_key_from_pem(p).kid for p in (first, second, current)
    ]
    assert len(_service(current, pems).jwks()["keys"]) == 3


def test_a_previous_key_that_is_not_a_p256_public_key_stops_the_start_naming_the_variable():
    with pytest.raises(ValueError, match=r"^JWT_PREVIOUS_PUBLIC_KEYS: key 1 is not a PEM public key"):
        previous_public_jwks("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n")
    rsa_public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    pem = rsa_public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(ValueError, match=r"^JWT_PREVIOUS_PUBLIC_KEYS: key 2 must be an EC P-256 public key"):
        previous_public_jwks(_public_pem(generate_pem()) + pem)
    assert previous_public_jwks("") == []
