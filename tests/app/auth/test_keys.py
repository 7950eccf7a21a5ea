from __future__ import annotations

import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from app.auth.keys import generate_pem, load_signing_key, signing_key_from_pem
from app.auth.settings import AuthSettings

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
