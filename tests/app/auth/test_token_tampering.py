"""Forged, tampered, expired and `alg: none` tokens are all 401, at auth and at the api (which verifies via JWKS)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from app.auth.keys import signing_key_from_pem


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(token: str) -> tuple[dict, dict, str]:
    header, payload, sig = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(header))), json.loads(base64.urlsafe_b64decode(pad(payload))), sig


@pytest.fixture(scope="module")
def real_key(key_dir, auth_server):
    return signing_key_from_pem((key_dir / "signing.pem").read_bytes())


def _hs256(claims: dict, secret: bytes, kid: str) -> str:
    # Built by hand: PyJWT itself refuses to sign with something that looks like a public key.
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = _b64(json.dumps(claims).encode())
    sig = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(sig)}"


def _claims(user_id: str, **over) -> dict:
    now = int(time.time())
    return {"iss": "grid-auth", "aud": "grid", "sub": user_id, "iat": now, "exp": now + 300, **over}


def _forgeries(user, real_key) -> dict[str, str]:
    _header, payload, sig = _segments(user.access_token)
    other_user = str(uuid.uuid4())
    attacker = ec.generate_private_key(ec.SECP256R1())
    swapped_payload = _b64(json.dumps({**payload, "sub": other_user}).encode())
    jwk = real_key.public_jwk
    return {
        "alg none": f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT', 'kid': real_key.kid}).encode())}.{_b64(json.dumps(payload).encode())}.",
        "alg none no sig part": _b64(b'{"alg":"none"}') + "." + _b64(json.dumps(payload).encode()),
        "payload swapped": f"{user.access_token.split('.')[0]}.{swapped_payload}.{sig}",
        "signature flipped": user.access_token[:-4] + ("AAAA" if not user.access_token.endswith("AAAA") else "BBBB"),
        "signed by attacker key, real kid": jwt.encode(
            _claims(user.id), attacker, algorithm="ES256", headers={"kid": real_key.kid}
        ),
        "HS256 with the public key as secret": _hs256(_claims(user.id), json.dumps(jwk).encode(), real_key.kid),
        "expired": jwt.encode(
            _claims(user.id, iat=int(time.time()) - 3600, exp=int(time.time()) - 60),
            real_key.private_key,
            algorithm="ES256",
            headers={"kid": real_key.kid},
        ),
        "wrong audience": jwt.encode(
            _claims(user.id, aud="someone-else"), real_key.private_key, algorithm="ES256", headers={"kid": real_key.kid}
        ),
        "wrong issuer": jwt.encode(
            _claims(user.id, iss="evil"), real_key.private_key, algorithm="ES256", headers={"kid": real_key.kid}
        ),
        "no exp": jwt.encode(
            {k: v for k, v in _claims(user.id).items() if k != "exp"},
            real_key.private_key,
            algorithm="ES256",
            headers={"kid": real_key.kid},
        ),
        "sub not a uuid": jwt.encode(
            _claims("admin"), real_key.private_key, algorithm="ES256", headers={"kid": real_key.kid}
        ),
        "unknown kid": jwt.encode(_claims(user.id), real_key.private_key, algorithm="ES256", headers={"kid": "nope"}),
        "malformed": "not.a.jwt",
        "garbage": "x" * 40,
        "empty segments": "..",
    }


def test_a_well_formed_token_from_the_real_key_is_accepted(auth, api, user, real_key):
    # Control case: proves the forgeries below fail for the reason under test, not for a setup mistake.
    sid = _segments(user.access_token)[1]["sid"]  # a real session: tokens must name one to be revocable
    token = jwt.encode(
        _claims(user.id, sid=sid), real_key.private_key, algorithm="ES256", headers={"kid": real_key.kid}
    )
    assert auth.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert api.get("/v1/agents", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_forged_tokens_are_rejected_by_auth_and_api(auth, api, user, real_key):
    for name, token in _forgeries(user, real_key).items():
        headers = {"Authorization": f"Bearer {token}"}
        assert auth.get("/auth/me", headers=headers).status_code == 401, name
        r = api.get("/v1/agents", headers=headers)
        assert r.status_code == 401, name
        assert r.json()["detail"] == "invalid or expired token"


def test_well_signed_tokens_without_a_live_session_are_rejected(auth, api, make_user, real_key):
    user, other = make_user(), make_user()
    other_sid = _segments(other.access_token)[1]["sid"]
    for name, claims in {
        "no session": _claims(user.id),
        "unknown session": _claims(user.id, sid=str(uuid.uuid4())),
        "another user's session": _claims(user.id, sid=other_sid),
        "session not a uuid": _claims(user.id, sid="x"),
    }.items():
        token = jwt.encode(claims, real_key.private_key, algorithm="ES256", headers={"kid": real_key.kid})
        headers = {"Authorization": f"Bearer {token}"}
        assert auth.get("/auth/me", headers=headers).status_code == 401, name
        r = api.get("/v1/agents", headers=headers)
        assert r.status_code == 401, name
        assert r.json()["detail"] == "session ended, sign in again"


def test_non_bearer_schemes_are_rejected(api, user):
    for value in (f"Basic {user.access_token}", user.access_token, "Bearer", "Bearer  x.y"):
        assert api.get("/v1/agents", headers={"Authorization": value}).status_code == 401
