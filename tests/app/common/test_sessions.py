"""Access tokens stop working within seconds of their session's end: logout, refresh-family revocation, account
deletion (app/common/sessions.py), at the api and at auth itself."""

from __future__ import annotations

import psycopg
import pytest

RECHECK_BOUND = 10  # seconds: far above the services' 2 s recheck, a bound for polling, not a measured time


def _refused_everywhere(api, auth, user) -> bool:
    return (
        api.get("/v1/agents", headers=user.headers).status_code == 401
        and api.post("/v1/agents", json={"name": "x"}, headers=user.headers).status_code == 401
        and auth.get("/auth/me", headers=user.headers).status_code == 401
    )


def test_logout_ends_the_access_token(api, auth, user, wait_until):
    assert api.get("/v1/agents", headers=user.headers).status_code == 200
    assert auth.post("/auth/logout", json={"refresh_token": user.refresh_token}).status_code == 204
    assert wait_until(lambda: _refused_everywhere(api, auth, user), timeout=RECHECK_BOUND)
    r = api.get("/v1/agents", headers=user.headers)
    assert r.headers["www-authenticate"] == "Bearer"


def test_refresh_family_revocation_ends_its_access_tokens(api, auth, user, wait_until):
    assert auth.post("/auth/refresh", json={"refresh_token": user.refresh_token}).status_code == 200
    # Reusing the rotated refresh token revokes the whole family: the access token from the login goes too.
    assert auth.post("/auth/refresh", json={"refresh_token": user.refresh_token}).status_code == 401
    assert wait_until(lambda: _refused_everywhere(api, auth, user), timeout=RECHECK_BOUND)


def test_other_sessions_of_the_user_keep_working(api, auth, make_user, forwarded_for, wait_until):
    user = make_user()
    r = auth.post("/auth/login", json={"email": user.email, "password": user.password}, headers=forwarded_for())
    other = {"Authorization": f"Bearer {r.json()['access_token']}"}
    auth.post("/auth/logout", json={"refresh_token": user.refresh_token})
    assert wait_until(lambda: _refused_everywhere(api, auth, user), timeout=RECHECK_BOUND)
    assert api.get("/v1/agents", headers=other).status_code == 200


@pytest.mark.parametrize("warm", [True, False], ids=["token-used-before", "token-first-used-after"])
def test_a_deleted_users_token_is_refused_for_reads_and_writes(api, auth, postgres, make_user, wait_until, warm):
    user = make_user()
    if warm:
        assert api.get("/v1/agents", headers=user.headers).status_code == 200
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute("DELETE FROM users WHERE id = %s", (user.id,))
    assert wait_until(lambda: _refused_everywhere(api, auth, user), timeout=RECHECK_BOUND)
    r = api.post(
        "/v1/conversations/00000000-0000-0000-0000-000000000000/messages",
        json={"role": "user", "content": "x"},
        headers={**user.headers, "Idempotency-Key": "k1"},
    )
    assert r.status_code == 401


def test_concurrent_requests_of_a_session_share_one_check():
    """When a session's answer is due, the requests in flight wait for one query instead of each sending one; a
    cancelled request does not cancel the answer the others wait for."""
    import asyncio
    import uuid

    from app.common.sessions import SessionCheck

    class Db:
        def __init__(self) -> None:
            self.reads = 0
            self.release = asyncio.Event()

        async def read(self, user_id, statements):
            self.reads += 1
            await self.release.wait()
            return [[{"?column?": 1}]]

    async def go():
        db = Db()
        check = SessionCheck(db, recheck=0.0)  # every answer is due at once: only sharing can save a query
        user, claims = uuid.uuid4(), {"sid": str(uuid.uuid4()), "exp": 2**40}
        waiting = [asyncio.ensure_future(check.live(user, claims)) for _ in range(20)]
        await asyncio.sleep(0)
        waiting[0].cancel()
        db.release.set()
        answers = await asyncio.gather(*waiting[1:])
        assert answers == [True] * 19 and db.reads == 1
        assert await check.live(user, claims) and db.reads == 2  # the next due answer is asked again

    asyncio.run(go())
