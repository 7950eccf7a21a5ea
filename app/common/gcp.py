"""Google APIs from Cloud Run without client libraries: the service account's OAuth token from the metadata
server, refreshed a minute before it expires."""

from __future__ import annotations

import time

import httpx

METADATA_TOKEN_URL = "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"


class AccessToken:
    def __init__(self, http: httpx.AsyncClient, url: str = METADATA_TOKEN_URL) -> None:
        self.http = http
        self.url = url
        self._value: str | None = None
        self._refresh_at = 0.0

    async def get(self) -> str:
        if self._value is None or time.monotonic() >= self._refresh_at:
            resp = await self.http.get(self.url, headers={"Metadata-Flavor": "Google"})
            resp.raise_for_status()
            payload = resp.json()
            self._value = str(payload["access_token"])
            self._refresh_at = time.monotonic() + max(0, int(payload.get("expires_in", 300)) - 60)
        return self._value


def google_api(
    endpoint: str, emulator_host: str | None, timeout: float
) -> tuple[httpx.AsyncClient, str, AccessToken | None]:
    """(client, base URL, token) for a Google REST API; with an emulator (tests, `grid local`) plain HTTP to it
    and no token: the local cloud knows the caller by the listener it calls."""
    http = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=5.0))
    if emulator_host:
        return http, f"http://{emulator_host}", None
    return http, endpoint, AccessToken(http)
