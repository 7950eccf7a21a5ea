"""The metadata server's access token (app/common/gcp.py), as the Cloud Tasks and Pub/Sub clients (async) and the
metrics exporter (its own thread) ask for it: from GCE_METADATA_HOST when set, once, then from the cache."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.common.gcp import AccessToken


@pytest.fixture
def metadata(monitoring, monkeypatch: pytest.MonkeyPatch):
    """The fake Monitoring API's metadata server (tests/app/monitoring.py), counting the token requests."""
    fake, base_url = monitoring
    monkeypatch.setattr(fake, "token", "ya29.from-the-metadata-server")
    monkeypatch.setenv("GCE_METADATA_HOST", base_url.removeprefix("http://"))
    return fake


def test_the_token_comes_from_the_metadata_server_once_blocking_or_async(metadata) -> None:
    requests: list[str] = []
    hooks = {"request": [lambda request: requests.append(str(request.url))]}
    with httpx.Client(event_hooks=hooks) as http:
        token = AccessToken(http)
        assert token.get_blocking() == token.get_blocking() == metadata.token

    async def twice() -> tuple[str, str]:
        async def hook(request: httpx.Request) -> None:
            requests.append(str(request.url))

        async with httpx.AsyncClient(event_hooks={"request": [hook]}) as http:
            token = AccessToken(http)
            return await token.get(), await token.get()

    assert asyncio.run(twice()) == (metadata.token, metadata.token)
    assert len(requests) == 2 and all(url.endswith("/instance/service-accounts/default/token") for url in requests)
