"""Completions routed to a real local HTTP server speaking the OpenAI chat-completions API."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.ai.completion import (
    CircuitBreaker,
    CompletionClient,
    ProviderNotConfigured,
    ProviderRejected,
    ProviderUnavailable,
)


def _client(fake, **kw) -> CompletionClient:
    kw.setdefault("timeout", 0.5)
    kw.setdefault("backoff_base", 0.01)
    return CompletionClient(fake.url, "sk-test", "test-model", **kw)


def _complete(client: CompletionClient, text: str = "hi"):
    async def run():
        try:
            return await client.complete([{"role": "user", "content": text}])
        finally:
            await client.close()

    return asyncio.run(run())


def test_success_sends_model_messages_and_key(fake_provider):
    fake_provider.reset(("ok", "hello there", 12, 3))
    c = _complete(_client(fake_provider), "say hello")
    assert (c.content, c.model, c.prompt_tokens, c.completion_tokens) == ("hello there", "test-model", 12, 3)
    [req] = fake_provider.requests
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test"
    assert req["body"]["messages"] == [{"role": "user", "content": "say hello"}]


@pytest.mark.parametrize(
    "failures",
    [
        [("status", 500, None)],
        [("status", 503, None), ("status", 502, None)],
        [("status", 429, 0)],
        [("sleep", 1.0)],  # longer than the 0.5 s timeout
        [("garbage",)],
    ],
    ids=["500", "503-502", "429", "timeout", "malformed"],
)
def test_transient_failures_are_retried(fake_provider, failures):
    fake_provider.reset(*failures, ("ok", "recovered", 1, 1))
    c = _complete(_client(fake_provider, max_attempts=3))
    assert c.content == "recovered"
    assert len(fake_provider.requests) == len(failures) + 1


def test_retry_after_is_honoured_up_to_the_cap(fake_provider):
    fake_provider.reset(("status", 429, 1), ("ok", "after the wait", 1, 1))
    started = time.monotonic()
    assert _complete(_client(fake_provider, backoff_cap=4.0)).content == "after the wait"
    assert time.monotonic() - started >= 0.95


def test_backoff_grows_exponentially_with_jitter(fake_provider):
    client = _client(fake_provider, backoff_base=0.1, backoff_cap=10.0)
    delays = [[client._delay(attempt, None) for _ in range(200)] for attempt in range(4)]
    for attempt, samples in enumerate(delays):
        assert min(samples) >= 0 and max(samples) <= 0.1 * 2**attempt
        assert len({round(s, 6) for s in samples}) > 150  # jittered, not synchronised
    assert sum(delays[3]) > 4 * sum(delays[0])
    asyncio.run(client.close())


def test_gives_up_after_max_attempts(fake_provider):
    fake_provider.reset(*[("status", 500, None)] * 5)
    with pytest.raises(ProviderUnavailable):
        _complete(_client(fake_provider, max_attempts=3))
    assert len(fake_provider.requests) == 3


def test_client_errors_are_not_retried(fake_provider):
    fake_provider.reset(("status", 400, None), ("ok", "never", 1, 1))
    with pytest.raises(ProviderRejected):
        _complete(_client(fake_provider, max_attempts=3))
    assert len(fake_provider.requests) == 1


def test_circuit_breaker_opens_fails_fast_and_recovers(fake_provider):
    breaker = CircuitBreaker(threshold=2, cooldown=0.5)
    client = _client(fake_provider, max_attempts=1, breaker=breaker)

    async def run() -> None:
        fake_provider.reset(*[("status", 500, None)] * 2)
        for _ in range(2):
            with pytest.raises(ProviderUnavailable):
                await client.complete([{"role": "user", "content": "x"}])
        assert breaker.state == "open"
        # Open: fails at once, without calling the provider.
        with pytest.raises(ProviderUnavailable) as info:
            await client.complete([{"role": "user", "content": "x"}])
        assert info.value.retry_after >= 1
        assert len(fake_provider.requests) == 2
        await asyncio.sleep(0.6)
        # Half-open: one trial call; its success closes the breaker.
        fake_provider.reset(("ok", "back", 1, 1))
        assert (await client.complete([{"role": "user", "content": "x"}])).content == "back"
        assert breaker.state == "closed"
        await client.close()

    asyncio.run(run())


def test_failed_trial_reopens_the_breaker():
    breaker = CircuitBreaker(threshold=1, cooldown=0.05)
    breaker.failure()
    assert not breaker.allow()
    time.sleep(0.06)
    assert breaker.allow() and not breaker.allow()  # only one trial at a time
    breaker.failure()
    assert breaker.state == "open"


MESSAGES = [{"role": "user", "content": "x"}]


async def _half_open(fake_provider) -> tuple[CircuitBreaker, CompletionClient]:
    """A client whose breaker opened on one failed completion (threshold 1) and is now half-open: the next call is
    the trial."""
    breaker = CircuitBreaker(threshold=1, cooldown=0.2)
    client = _client(fake_provider, max_attempts=1, breaker=breaker)
    fake_provider.reset(("status", 500, None))
    with pytest.raises(ProviderUnavailable):
        await client.complete(MESSAGES)
    await asyncio.sleep(0.25)
    assert breaker.state == "half-open"
    return breaker, client


@pytest.mark.parametrize(
    "reply",
    [
        b'{"choices": [{"message": {"content": "x"}}], "usage": "lots"}',
        b'{"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": "many"}}',
        b'{"choices": "none"}',
        b"[1, 2]",
        b"not json",
    ],
    ids=["usage-not-object", "tokens-not-int", "choices-not-list", "not-object", "not-json"],
)
def test_a_malformed_trial_reply_counts_as_a_failure_and_the_breaker_recovers(fake_provider, reply):
    async def run() -> None:
        breaker, client = await _half_open(fake_provider)
        fake_provider.reset(("raw", reply))
        with pytest.raises(ProviderUnavailable):  # the malformed trial is a failed attempt, not a crash
            await client.complete(MESSAGES)
        assert breaker.state == "open"
        await asyncio.sleep(0.25)
        fake_provider.reset(("ok", "back", 1, 1))
        assert (await client.complete(MESSAGES)).content == "back"
        assert breaker.state == "closed"
        await client.close()

    asyncio.run(run())


def test_a_cancelled_trial_frees_the_trial_slot(fake_provider):
    async def run() -> None:
        breaker, client = await _half_open(fake_provider)
        fake_provider.reset(("sleep", 0.4))
        trial = asyncio.create_task(client.complete(MESSAGES))
        while not fake_provider.requests:  # the trial is at the provider
            await asyncio.sleep(0.01)
        trial.cancel()  # e.g. the caller disconnected
        with pytest.raises(asyncio.CancelledError):
            await trial
        fake_provider.reset(("ok", "back", 1, 1))
        assert (await client.complete(MESSAGES)).content == "back"  # the next caller may probe
        assert breaker.state == "closed"
        await client.close()

    asyncio.run(run())


def test_unconfigured_provider_raises():
    client = CompletionClient(None, None, "m")
    with pytest.raises(ProviderNotConfigured):
        asyncio.run(client.complete([{"role": "user", "content": "x"}]))
    asyncio.run(client.close())


# -- through the ai service ------------------------------------------------------------------------------------


def test_complete_with_conversation_context(ai, user, make_conversation, post_message, fake_provider):
    conv = make_conversation(user)
    post_message(user, conv["id"], "My name is Ada.")
    post_message(user, conv["id"], "Nice to meet you, Ada.", role="assistant")
    fake_provider.reset(("ok", "Your name is Ada.", 20, 5))
    r = ai.post(
        "/ai/complete", json={"prompt": "What is my name?", "conversation_id": conv["id"]}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "model": "test-model",
        "content": "Your name is Ada.",
        "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
    }
    sent = fake_provider.requests[0]["body"]
    assert sent["model"] == "test-model"
    assert sent["messages"] == [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Nice to meet you, Ada."},
        {"role": "user", "content": "What is my name?"},
    ]


def test_another_users_conversation_is_404(ai, make_user, make_conversation, fake_provider):
    owner, intruder = make_user(), make_user()
    conv = make_conversation(owner)
    fake_provider.reset()
    r = ai.post("/ai/complete", json={"prompt": "x", "conversation_id": conv["id"]}, headers=intruder.headers)
    assert r.status_code == 404 and fake_provider.requests == []


def test_daily_token_budget(ai, user, fake_provider):
    # The test service has COMPLETION_TOKENS_PER_DAY=1000.
    fake_provider.reset(("ok", "a", 600, 100), ("ok", "b", 250, 50), ("ok", "never", 1, 1))
    assert ai.post("/ai/complete", json={"prompt": "one"}, headers=user.headers).status_code == 200
    r = ai.post("/ai/complete", json={"prompt": "two", "max_tokens": 1024}, headers=user.headers)
    assert r.status_code == 200
    assert fake_provider.requests[1]["body"]["max_tokens"] == 300  # never more than what is left
    r = ai.post("/ai/complete", json={"prompt": "three"}, headers=user.headers)
    assert r.status_code == 429 and "budget" in r.json()["detail"]
    assert len(fake_provider.requests) == 2


def test_provider_outage_is_503_with_retry_after(ai, user, fake_provider):
    fake_provider.reset(*[("status", 500, None)] * 3)
    r = ai.post("/ai/complete", json={"prompt": "x"}, headers=user.headers)
    assert r.status_code == 503 and "Retry-After" in r.headers
    assert "500" not in r.json()["detail"]


def test_without_a_provider_complete_is_503_never_a_fake_answer(postgres, redis_server, auth_server, ai_server, user):
    import httpx

    from tests.app.ai.conftest import start_ai

    server = start_ai(postgres, redis_server, auth_server.url, EVENTS_BACKEND="none")
    try:
        r = httpx.post(f"{server.url}/ai/complete", json={"prompt": "hello"}, headers=user.headers, timeout=10)
    finally:
        server.stop()
    assert r.status_code == 503
    assert "no completion provider is configured" in r.json()["detail"]
