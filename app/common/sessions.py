"""Is the session behind an access token still live? Revocation for self-contained access tokens.

An access token is valid by signature until its `exp` (15 minutes), so on its own it outlives logout, the
revocation of its refresh-token family (reuse detected) and the deletion of its user. Every access token
therefore names its session (`sid`: the refresh-token family it was issued with), and a request is accepted
only while that family still has an unrevoked token of that user in Postgres. Logout and reuse detection revoke
the family and account deletion cascades to its rows, so one indexed query covers all three, and Postgres (not
Redis, which may be down or restored from old data) is the authority.

A live answer is remembered for `recheck` seconds per instance (the cache's L1 lifetime), which bounds how long
a revoked token keeps working; an ended session is remembered until the token itself expires.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from uuid import UUID

from app.common.db import Database


class SessionCheck:
    def __init__(self, db: Database, *, recheck: float, remember: int = 10_000) -> None:
        self.db = db
        self.recheck = recheck
        self.remember = remember
        # (user id, session id) -> (live?, monotonic time until which the answer stands)
        self._known: OrderedDict[tuple[UUID, UUID], tuple[bool, float]] = OrderedDict()
        self._pending: dict[tuple[UUID, UUID], asyncio.Future[bool]] = {}

    async def live(self, user_id: UUID, claims: dict) -> bool:
        try:
            sid = UUID(str(claims["sid"]))
        except (KeyError, ValueError):
            return False  # a token that names no session cannot be revoked, so it is not accepted
        key = (user_id, sid)
        known = self._known.get(key)
        if known is not None and known[1] > time.monotonic():
            return known[0]
        # One query per session at a time: when an answer expires under load, every request of that session in
        # flight would otherwise ask Postgres the same question at once.
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = asyncio.ensure_future(self._ask(key, claims))
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        return await asyncio.shield(pending)  # a cancelled request does not cancel the others' answer

    async def _ask(self, key: tuple[UUID, UUID], claims: dict) -> bool:
        user_id, sid = key
        now = time.monotonic()
        (rows,) = await self.db.read(  # one round trip
            None,
            [
                (
                    "SELECT 1 FROM refresh_tokens WHERE family_id = %s AND user_id = %s AND revoked_at IS NULL LIMIT 1",
                    (sid, user_id),
                )
            ],
        )
        live = bool(rows)
        until = now + self.recheck if live else now + max(float(claims.get("exp", 0)) - time.time(), 0.0)
        self._known[key] = (live, until)
        self._known.move_to_end(key)
        if len(self._known) > self.remember:
            self._known.popitem(last=False)
        return live
