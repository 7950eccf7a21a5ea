"""Login throttling under concurrency: a parallel burst evaluates at most the limit, with Redis up, slow or down."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import httpx
import pytest
import redis

ACCOUNT_LIMIT = 5  # LOGIN_MAX_FAILURES_PER_ACCOUNT's default, which the test services run with
IP_LIMIT = 50  # LOGIN_MAX_FAILURES_PER_IP's default


def _burst(base_url: str, attempts: list[tuple[str, str]]) -> Counter:
    """Send every (email, client ip) login with a wrong password at once; count the statuses."""

    async def go() -> Counter:
        limits = httpx.Limits(max_connections=len(attempts), max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
            responses = await asyncio.gather(
                *(
                    client.post(
                        "/auth/login",
                        json={"email": email, "password": "wrong-password-123"},
                        headers={"X-Forwarded-For": ip},
                    )
                    for email, ip in attempts
                )
            )
        return Counter(r.status_code for r in responses)

    return asyncio.run(go())


@contextlib.contextmanager
def _redis_state(state: str, redis_server):
    if state == "down":
        redis_server.stop(kill=True)
        try:
            yield
        finally:
            redis_server.start()
    elif state == "slow":
        # CLIENT PAUSE holds every command for 1.5 s: the services' Redis calls time out mid-burst and some of
        # them are executed after the pause anyway, which is how counts used to split between Redis and memory.
        client = redis.Redis.from_url(redis_server.url)
        client.execute_command("CLIENT", "PAUSE", 1500, "ALL")
        try:
            yield
        finally:
            client.close()
    else:
        yield


@pytest.fixture
def unthrottled_ip(forwarded_for):
    return lambda: forwarded_for()["X-Forwarded-For"]


@pytest.mark.parametrize("state", ["up", "slow", "down"])
def test_parallel_wrong_passwords_on_one_account_evaluate_at_most_the_limit(
    auth_server, redis_server, make_user, unthrottled_ip, state
):
    user = make_user()
    # Varying the case of the address is the same account, and distinct client IPs keep the IP limit out of it.
    attempts = [(user.email.upper() if i % 2 else user.email, unthrottled_ip()) for i in range(60)]
    with _redis_state(state, redis_server):
        statuses = _burst(auth_server.url, attempts)
    assert statuses[401] <= ACCOUNT_LIMIT, statuses
    assert statuses[401] + statuses[429] == 60, statuses


def test_parallel_wrong_passwords_from_one_ip_evaluate_at_most_the_limit(auth_server, make_user, unthrottled_ip):
    ip = unthrottled_ip()
    emails = [f"nobody-{i}-{ip}@example.com" for i in range(60)]
    statuses = _burst(auth_server.url, [(e, ip) for e in emails])
    assert statuses[401] <= IP_LIMIT, statuses
    assert statuses[429] >= 60 - IP_LIMIT, statuses
    # Up to 50 evaluations at once can outwait the test services' 8 database connections on a loaded machine:
    # those are shed with 503 (counted, never evaluated), which is not a throttling failure.
    assert statuses[401] + statuses[429] + statuses[503] == 60, statuses


def test_a_successful_login_does_not_count_against_its_client_ip(auth, make_user, unthrottled_ip):
    user, ip = make_user(), {"X-Forwarded-For": unthrottled_ip()}
    for _ in range(IP_LIMIT + 5):
        r = auth.post("/auth/login", json={"email": user.email, "password": user.password}, headers=ip)
        assert r.status_code == 200, r.text


def test_client_ip_is_the_one_the_load_balancer_appended():
    """Google's external Application LB appends `<client-ip>,<lb-ip>`: with 2 trusted hops, anything the client
    wrote itself further left is ignored (https://cloud.google.com/load-balancing/docs/https#x-forwarded-for_header)."""
    from starlette.requests import Request

    from app.common.clientip import client_ip

    def request(xff: str | None) -> Request:
        headers = [(b"x-forwarded-for", xff.encode())] if xff is not None else []
        return Request({"type": "http", "headers": headers, "client": ("169.254.1.1", 443)})

    assert client_ip(request("6.6.6.6, 203.0.113.7,130.211.0.1"), 2) == "203.0.113.7"
    assert client_ip(request("203.0.113.7,130.211.0.1"), 2) == "203.0.113.7"
    assert client_ip(request("1.1.1.1"), 2) == "169.254.1.1"
    assert client_ip(request(None), 2) == "169.254.1.1"
    assert client_ip(request("6.6.6.6"), 0) == "169.254.1.1"
