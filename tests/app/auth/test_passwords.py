from __future__ import annotations

import asyncio

from app.auth.passwords import Hasher, password_problem
from app.auth.settings import AuthSettings


def test_policy_rejects_short_common_and_repetitive_passwords():
    assert password_problem("short") is not None
    assert password_problem("Password1234") == "password is too common"
    assert password_problem("abababababababab") == "password is too common"
    assert password_problem("x" * 300) is not None
    assert password_problem("me@example.com", "me@example.com") is not None
    assert password_problem("plum-tortoise-engine-47") is None


def test_hashes_are_argon2id_with_the_production_defaults():
    s = AuthSettings(DATABASE_URL="postgresql://x", JWT_KEY_FILE="/tmp/k.pem")
    hasher = Hasher(s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism)

    async def go():
        stored = await hasher.hash("plum-tortoise-engine-47")
        assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=2$")
        assert await hasher.verify(stored, "plum-tortoise-engine-47")
        assert not await hasher.verify(stored, "plum-tortoise-engine-48")
        # Unknown account: verified against a dummy hash, always false.
        assert not await hasher.verify(None, "plum-tortoise-engine-47")
        assert not hasher.needs_rehash(stored)
        assert Hasher(1, 8192, 1).needs_rehash(stored)

    asyncio.run(go())
