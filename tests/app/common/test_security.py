from __future__ import annotations

import asyncio
import time
import uuid

import jwt
import pytest
from fastapi import FastAPI, Request

from app.auth.keys import generate_pem, signing_key_from_pem
from app.common.security import InvalidToken, JwksKeys, StaticKeys, TokenVerifier


def _token(key, exp_in: int = 60, **over) -> str:
    now = int(time.time())
    claims = {"iss": "grid-auth", "aud": "grid", "sub": str(uuid.uuid4()), "iat": now, "exp": now + exp_in, **over}
    return jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})


def test_a_remembered_token_still_expires():
    key = signing_key_from_pem(generate_pem())
    verifier = TokenVerifier(StaticKeys({"keys": [key.public_jwk]}), issuer="grid-auth", audience="grid", leeway=0)
    token = _token(key, exp_in=3)  # seconds, not 1: a loaded machine can spend one before the first verify

    async def go():
        first = await verifier.verify(token)
        assert await verifier.verify(token) is first  # remembered
        await asyncio.sleep(3.1)
        with pytest.raises(InvalidToken):
            await verifier.verify(token)

    asyncio.run(go())


def test_remembered_tokens_are_bounded():
    key = signing_key_from_pem(generate_pem())
    verifier = TokenVerifier(StaticKeys({"keys": [key.public_jwk]}), issuer="grid-auth", audience="grid", remember=5)

    async def go():
        for _ in range(20):
            await verifier.verify(_token(key))

    asyncio.run(go())
    assert len(verifier._verified) == 5


def test_jwks_keys_are_refetched_when_the_signing_key_rotates(server_thread):
    old, new = signing_key_from_pem(generate_pem()), signing_key_from_pem(generate_pem())
    published = {"keys": [old.public_jwk]}
    app = FastAPI()

    @app.get("/jwks")
    async def jwks() -> dict:
        return published

    server = server_thread(app)
    verifier = TokenVerifier(JwksKeys(f"{server.url}/jwks", min_refresh=0), issuer="grid-auth", audience="grid")

    async def go():
        await verifier.verify(_token(old))
        published["keys"] = [new.public_jwk, old.public_jwk]  # rotation: new key first, old one still listed
        await verifier.verify(_token(new))
        with pytest.raises(InvalidToken):
            await verifier.verify(_token(signing_key_from_pem(generate_pem())))

    asyncio.run(go())


def test_a_rotated_key_gets_past_a_cdn_copy_of_the_jwks(server_thread):
    """The JWKS is public and cached (Cloud CDN, keyed on the URL with its query string): a token with a kid the
    verifier does not know is looked up with `?kid=`, a fresh cache key, so the rotation shows at once."""
    old, new = signing_key_from_pem(generate_pem()), signing_key_from_pem(generate_pem())
    published = {"keys": [old.public_jwk]}
    cdn: dict[str, dict] = {}  # URL (with query) -> the copy it keeps, as a shared cache honouring max-age would
    app = FastAPI()

    @app.get("/jwks")
    async def jwks(request: Request) -> dict:
        return cdn.setdefault(str(request.url), {"keys": list(published["keys"])})

    server = server_thread(app)
    verifier = TokenVerifier(JwksKeys(f"{server.url}/jwks", min_refresh=0), issuer="grid-auth", audience="grid")

    async def go():
        await verifier.verify(_token(old))
        published["keys"] = [new.public_jwk]
        await verifier.verify(_token(new))  # the plain URL's cached copy still has only the old key

    asyncio.run(go())
    assert any(f"kid={new.kid}" in url for url in cdn)
