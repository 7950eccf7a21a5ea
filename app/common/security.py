"""Access-token verification shared by every service: ES256 JWTs checked against the auth service's JWKS.

Services verify with public keys only, so no shared secret exists outside the auth service. The algorithm is
pinned: `alg: none`, HS256 with the public key as secret and anything else are refused before any key is used.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import jwt
from fastapi import HTTPException, Request, WebSocket
from fastapi.security import HTTPBearer

from app.common import tls
from app.common.caching import JWKS_MAX_AGE

log = logging.getLogger("app.security")

ALGORITHM = "ES256"
# What auth's key ids look like (an RFC 7638 thumbprint, base64url): only such a kid goes into a JWKS URL.
_KID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class Principal:
    user_id: UUID
    claims: dict[str, Any]


class KeySource(Protocol):
    async def get(self, kid: str) -> Any | None: ...


class StaticKeys:
    """Keys known in-process (the auth service verifying its own tokens)."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self._keys = {k["kid"]: jwt.PyJWK(k, ALGORITHM).key for k in jwks["keys"]}

    async def get(self, kid: str) -> Any | None:
        return self._keys.get(kid)


class JwksKeys:
    """Keys fetched from a JWKS URL, cached, and refetched (at most every `min_refresh` s) on an unknown kid.

    The JWKS is public and cacheable (Cloud CDN may keep it for JWKS_MAX_AGE, app/common/caching.py), so the
    refetch for an unknown kid asks for `?kid=<kid>`: the CDN's cache key includes the query string, so a key
    rotation is picked up at once rather than when the cached copy expires. The periodic refetch (every `ttl`)
    uses the plain URL, whose cached copy is at most as old as a verifier may keep its keys anyway.

    `id_token`, when given, supplies a bearer token for the fetch: the URL is a private Cloud Run service that
    only admits callers with a Google-signed ID token (app/common/idtoken.py).
    """

    def __init__(
        self,
        url: str,
        *,
        ttl: float = JWKS_MAX_AGE,
        min_refresh: float = 10.0,
        id_token: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        self.url = url
        self.id_token = id_token
        self.ttl = ttl
        self.min_refresh = min_refresh
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> Any | None:
        age = time.monotonic() - self._fetched_at
        if kid not in self._keys or age > self.ttl:
            await self._refresh(
                force=age > self.ttl, kid=kid if _KID.fullmatch(kid) and kid not in self._keys else None
            )
        return self._keys.get(kid)

    async def _refresh(self, *, force: bool, kid: str | None = None) -> None:
        import httpx  # here, not at module level: it costs ~0.15 s of import on the cold-start path

        async with self._lock:
            if not force and time.monotonic() - self._fetched_at < self.min_refresh:
                return
            try:
                headers = {"Authorization": f"Bearer {await self.id_token()}"} if self.id_token else {}
                async with httpx.AsyncClient(timeout=3.0, verify=tls.context()) as client:
                    resp = await client.get(self.url, headers=headers, params={"kid": kid} if kid else None)
                    resp.raise_for_status()
                    jwks = resp.json()
                self._keys = {k["kid"]: jwt.PyJWK(k, ALGORITHM).key for k in jwks.get("keys", [])}
            except (httpx.HTTPError, OSError, ValueError, KeyError, jwt.PyJWKError) as exc:
                # Keep the keys we had: an auth outage must not log everyone out.
                log.warning("could not refresh JWKS: %s", type(exc).__name__)
            self._fetched_at = time.monotonic()


class TokenVerifier:
    """Verifies access tokens, remembering tokens already verified until they expire.

    A client sends the same token with every request until it expires; verifying it once (parsing, claim checks
    and an ECDSA verification, about half a millisecond) instead of per request is safe because nothing about a
    verified token can change before its `exp`, which is re-checked on every hit.
    """

    def __init__(
        self, keys: KeySource, *, issuer: str, audience: str, leeway: float = 5.0, remember: int = 10_000
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.remember = remember
        self._verified: OrderedDict[str, Principal] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            if known.claims["exp"] + self.leeway > time.time():
                return known
            del self._verified[token]
        principal = await self._verify(token)
        self._verified[token] = principal
        if len(self._verified) > self.remember:
            self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed") from exc
        if header.get("alg") != ALGORITHM or not isinstance(header.get("kid"), str):
            raise InvalidToken("algorithm or key id not accepted")
        key = await self.keys.get(header["kid"])
        if key is None:
            raise InvalidToken("unknown key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
            return Principal(UUID(claims["sub"]), claims)
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidToken("invalid") from exc


_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def user_token(conn: Request | WebSocket) -> str | None:
    """The caller's bearer token, from the one header this deployment reads it from (USER_AUTH_HEADER).

    Behind API Gateway the gateway puts its own ID token in Authorization and the caller's header in
    X-Forwarded-Authorization; the plan sets that header only where the gateway is the only way in
    (docs/app-services.md). Anywhere else X-Forwarded-Authorization is whatever the client wrote, and is ignored.
    """
    return bearer_token(conn.headers.get(conn.app.state.settings.user_auth_header))


async def authenticate(conn: Request | WebSocket, token: str | None) -> Principal:
    if token is None:
        raise HTTPException(401, "not authenticated", headers=_UNAUTHORIZED)
    try:
        principal = await conn.app.state.verifier.verify(token)
    except InvalidToken:
        raise HTTPException(401, "invalid or expired token", headers=_UNAUTHORIZED) from None
    # Revocation (logout, refresh-family revocation, account deletion): see app/common/sessions.py.
    sessions = getattr(conn.app.state, "sessions", None)
    if sessions is not None and not await sessions.live(principal.user_id, principal.claims):
        raise HTTPException(401, "session ended, sign in again", headers=_UNAUTHORIZED)
    return principal


class _BearerDependency(HTTPBearer):
    """A FastAPI dependency that authenticates the caller and also declares the bearer scheme in the OpenAPI
    document (as FastAPI's HTTPBearer, whose name it keeps). One dependency rather than a function depending on an
    HTTPBearer and, for the user id, another on that: FastAPI solves every layer on every request, and the two
    layers saved are a measurable part of a cached read's CPU (bench/app_bench.py, docs/benchmarks.md)."""

    def __init__(self) -> None:
        super().__init__(auto_error=False, scheme_name="HTTPBearer", description="Access token from POST /auth/login")


class _CurrentPrincipal(_BearerDependency):
    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        return await authenticate(request, user_token(request))


class _CurrentUserId(_BearerDependency):
    async def __call__(self, request: Request) -> UUID:  # type: ignore[override]
        return (await authenticate(request, user_token(request))).user_id


current_principal = _CurrentPrincipal()
"""FastAPI dependency: the authenticated caller, or 401."""
current_user_id = _CurrentUserId()
"""FastAPI dependency: the authenticated caller's user id, or 401."""
