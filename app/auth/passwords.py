"""Password policy and argon2id hashing (off the event loop: a hash costs tens of milliseconds by design)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from anyio import to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 256  # bounds hashing work per request


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    text = Path(__file__).with_name("common_passwords.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def password_problem(password: str, email: str = "") -> str | None:
    """Why `password` is too weak, or None."""
    if len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password must be at most {MAX_LENGTH} characters"
    lowered = password.lower()
    if lowered in _common_passwords() or len(set(lowered)) < 4:
        return "password is too common"
    if email and lowered == email.lower():
        return "password must not be the email address"
    return None


class Hasher:
    def __init__(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._ph = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID)
        # Verified against when the email is unknown, so response time does not reveal which emails exist.
        # Made on first use, not at start: a hash costs ~0.2 s of CPU and cold start is on the critical path.
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await to_thread.run_sync(self._ph.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        if stored is None and self._dummy is None:
            self._dummy = await self.hash("grid-dummy-password-for-timing")
        against = stored or self._dummy
        assert against is not None
        return await to_thread.run_sync(self._verify, against, password, stored is not None)

    def _verify(self, stored: str, password: str, real: bool) -> bool:
        try:
            return self._ph.verify(stored, password) and real
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._ph.check_needs_rehash(stored)
