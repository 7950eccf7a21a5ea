"""Completions through an OpenAI-compatible chat-completions API, made resilient.

- Timeouts per attempt (connect 5 s, the whole response COMPLETION_TIMEOUT_SECONDS).
- Retries of what may succeed next time (timeouts, connection errors, 429, 5xx) with exponential backoff and full
  jitter, honouring a provider's Retry-After up to the cap; other 4xx are the request's fault and not retried.
- A circuit breaker: after `threshold` consecutive failed completions it opens for `cooldown` seconds and calls
  fail at once (503) instead of queueing on a provider that is down; then one trial call decides.
- Token usage is counted by the caller (app/ai/service.py) in app.common.metrics' TOKENS.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.common import tls

log = logging.getLogger("app.ai.completion")


class ProviderNotConfigured(Exception):
    pass


class ProviderUnavailable(Exception):
    """The provider failed after every attempt, or the breaker is open. `retry_after` in seconds."""

    def __init__(self, reason: str, retry_after: int = 1) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class ProviderRejected(Exception):
    """The provider refused the request itself (a 4xx other than 429)."""


@dataclass(frozen=True)
class Completion:
    content: str
    model: str
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class CircuitBreaker:
    def __init__(self, threshold: int = 5, cooldown: float = 30.0) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.failures = 0
        self.opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "open" if time.monotonic() - self.opened_at < self.cooldown else "half-open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._trial:
            self._trial = True  # exactly one caller probes the provider
            return True
        return False

    def end_trial(self) -> None:
        """Free the trial slot whatever became of the trial call (cancelled, or an error nobody foresaw): else
        no caller could ever probe again and the breaker would stay shut until the process restarts."""
        self._trial = False

    def retry_after(self) -> int:
        if self.opened_at is None:
            return 1
        return max(1, int(self.cooldown - (time.monotonic() - self.opened_at)) + 1)

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._trial = False

    def failure(self) -> None:
        self.failures += 1
        self._trial = False
        if self.opened_at is not None or self.failures >= self.threshold:
            if self.opened_at is None or self.state == "half-open":
                log.warning("completion provider circuit open for %.0fs", self.cooldown)
            self.opened_at = time.monotonic()


class _Message(BaseModel):
    content: str


class _Choice(BaseModel):
    message: _Message


class _Usage(BaseModel):
    prompt_tokens: int = Field(0, ge=0)
    completion_tokens: int = Field(0, ge=0)


class _Reply(BaseModel):
    """The part of a chat-completions reply we use; anything else in it is ignored, anything malformed in it is a
    failed attempt (a ValidationError), never an exception that escapes the retry and breaker logic."""

    model_config = ConfigDict(extra="ignore")

    choices: list[_Choice] = Field(min_length=1)
    model: str | None = None
    usage: _Usage | None = None


class CompletionClient:
    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        model: str,
        *,
        timeout: float = 30.0,
        max_attempts: int = 3,
        backoff_base: float = 0.25,
        backoff_cap: float = 4.0,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.model = model
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.breaker = breaker or CircuitBreaker()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.AsyncClient(
            headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), verify=tls.context()
        )

    @property
    def configured(self) -> bool:
        return self.base_url is not None

    async def close(self) -> None:
        await self.http.aclose()

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        # Full jitter: spreads the retries of many clients instead of synchronising them on the provider.
        delay = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_cap))
        return delay

    async def complete(self, messages: list[dict[str, str]], *, max_tokens: int | None = None) -> Completion:
        if self.base_url is None:
            raise ProviderNotConfigured()
        trial = self.breaker.state == "half-open"
        if not self.breaker.allow():
            raise ProviderUnavailable("circuit open", self.breaker.retry_after())
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        try:
            return await self._attempts(body)
        finally:
            if trial:
                self.breaker.end_trial()

    async def _attempts(self, body: dict[str, Any]) -> Completion:
        last = "no attempt"
        for attempt in range(self.max_attempts):
            retry_after: float | None = None
            try:
                resp = await self.http.post(f"{self.base_url}/chat/completions", json=body)
            except httpx.TimeoutException:
                last = "timeout"
            except httpx.TransportError as exc:
                last = type(exc).__name__
            else:
                if resp.status_code == 200:
                    try:
                        completion = self._parse(resp.content)
                    except ValidationError:
                        last = "malformed response"
                    else:
                        self.breaker.success()
                        return completion
                elif resp.status_code == 429 or resp.status_code >= 500:
                    last = f"HTTP {resp.status_code}"
                    retry_after = _retry_after(resp.headers.get("retry-after"))
                else:
                    # Our request is at fault; the provider is healthy, so the breaker counts it as a success.
                    self.breaker.success()
                    log.warning("completion provider rejected the request: HTTP %d", resp.status_code)
                    raise ProviderRejected(f"HTTP {resp.status_code}")
            log.info("completion attempt %d/%d failed: %s", attempt + 1, self.max_attempts, last)
            if attempt + 1 < self.max_attempts:
                await asyncio.sleep(self._delay(attempt, retry_after))
        self.breaker.failure()
        raise ProviderUnavailable(last, self.breaker.retry_after() if self.breaker.state == "open" else 1)

    def _parse(self, raw: bytes) -> Completion:
        reply = _Reply.model_validate_json(raw)
        usage = reply.usage or _Usage()
        return Completion(
            content=reply.choices[0].message.content,
            model=reply.model or self.model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        )


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
