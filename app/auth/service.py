"""Account and token logic of the auth service, independent of HTTP."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt

from app.auth import repository as repo
from app.auth.keys import SigningKey
from app.auth.passwords import Hasher, password_problem
from app.auth.settings import AuthSettings
from app.common.db import Database
from app.common.ratelimit import RateLimiter


class WeakPassword(Exception):
    pass


class InvalidCredentials(Exception):
    pass


class Throttled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int


def _hash_refresh(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class AuthService:
    def __init__(
        self,
        settings: AuthSettings,
        db: Database,
        limiter: RateLimiter,
        key: SigningKey,
        hasher: Hasher,
        previous_jwks: Sequence[dict[str, Any]] = (),
    ) -> None:
        self.settings = settings
        self.db = db
        self.limiter = limiter
        self.key = key
        self.hasher = hasher
        # The signing key first; an earlier generation's only while it is still published (and never twice).
        self._jwks = [key.public_jwk, *(jwk for jwk in previous_jwks if jwk["kid"] != key.kid)]

    # -- accounts --------------------------------------------------------------------------------------------

    async def register(self, email: str, password: str, display_name: str, ip: str) -> dict[str, Any]:
        s = self.settings
        usage = await self.limiter.hit(f"register:ip:{ip}", s.register_window_seconds)
        if usage.exceeded(s.register_max_per_ip):
            raise Throttled(usage.retry_after)
        problem = password_problem(password, email)
        if problem:
            raise WeakPassword(problem)
        password_hash = await self.hasher.hash(password)
        async with self.db.transaction() as conn:
            return await repo.insert_user(conn, email, password_hash, display_name)

    async def me(self, user_id: UUID) -> dict[str, Any] | None:
        async with self.db.transaction() as conn:
            return await repo.user_by_id(conn, user_id)

    # -- login and throttling --------------------------------------------------------------------------------

    async def login(self, email: str, password: str, ip: str) -> Tokens:
        s = self.settings
        # Keyed as the lookup matches (lower(email)), so changing the case of an address is not a fresh budget.
        account, client = f"login:acct:{email.lower()}", f"login:ip:{ip}"
        limits = (s.login_max_failures_per_account, s.login_max_failures_per_ip)
        # Counted before the password is checked, so a parallel burst cannot all be evaluated (see ratelimit.py).
        usages = await self.limiter.hit_all([account, client], s.login_failure_window_seconds)
        over = [u.retry_after for u, limit in zip(usages, limits, strict=True) if u.exceeded(limit)]
        if over:
            raise Throttled(max(over))
        async with self.db.transaction() as conn:
            user = await repo.user_by_email(conn, email)
        stored = user["password_hash"] if user else None
        if not await self.hasher.verify(stored, password):
            raise InvalidCredentials()  # the attempt stays counted as a failure
        assert user is not None
        # Only failures count: a success clears the account's and gives back the client's.
        await self.limiter.reset(account)
        await self.limiter.refund(client)
        async with self.db.transaction() as conn:
            if self.hasher.needs_rehash(user["password_hash"]):
                await repo.update_password_hash(conn, user["id"], await self.hasher.hash(password))
            return await self._issue(conn, user["id"], uuid.uuid4())

    # -- refresh-token rotation ------------------------------------------------------------------------------

    async def refresh(self, refresh_token: str) -> Tokens:
        async with self.db.transaction() as conn:
            row = await repo.lock_refresh_token(conn, _hash_refresh(refresh_token))
            if row is None or row["expired"]:
                raise InvalidCredentials()
            if row["rotated_at"] is None and row["revoked_at"] is None:
                await repo.mark_rotated(conn, row["id"])
                return await self._issue(conn, row["user_id"], row["family_id"])
            # Reuse of a rotated token means it leaked (or a client raced itself): end the whole session.
            await repo.revoke_family(conn, row["family_id"])
        # Raised after the block so the family's revocation commits.
        raise InvalidCredentials()

    async def logout(self, refresh_token: str) -> None:
        async with self.db.transaction() as conn:
            row = await repo.lock_refresh_token(conn, _hash_refresh(refresh_token))
            if row is not None:
                await repo.revoke_family(conn, row["family_id"])

    async def _issue(self, conn: Any, user_id: UUID, family_id: UUID) -> Tokens:
        s = self.settings
        refresh_token = secrets.token_urlsafe(32)
        await repo.insert_refresh_token(
            conn,
            user_id=user_id,
            family_id=family_id,
            token_hash=_hash_refresh(refresh_token),
            expires_at=datetime.now(UTC) + timedelta(seconds=s.refresh_token_ttl_seconds),
        )
        return Tokens(self.access_token(user_id, family_id), refresh_token, s.access_token_ttl_seconds)

    def access_token(self, user_id: UUID, session_id: UUID) -> str:
        """An access token of the session `session_id` (its refresh-token family), which can revoke it."""
        now = int(time.time())
        claims = {
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
            "sub": str(user_id),
            "iat": now,
            "nbf": now,
            "exp": now + self.settings.access_token_ttl_seconds,
            "jti": uuid.uuid4().hex,
            "sid": str(session_id),
        }
        return jwt.encode(claims, self.key.private_key, algorithm="ES256", headers={"kid": self.key.kid, "typ": "JWT"})

    def jwks(self) -> dict[str, Any]:
        return {"keys": list(self._jwks)}
