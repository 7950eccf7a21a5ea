"""Google APIs from Cloud Run without client libraries: the metadata server (the service account's OAuth token,
refreshed a minute before it expires, and facts about the instance), and an HTTP client per API.

The metadata server is ``metadata.google.internal`` (https://cloud.google.com/run/docs/container-contract#metadata-server),
or ``GCE_METADATA_HOST`` when set: the variable google-auth reads for the same purpose, which ``grid local`` and the
tests set to stand in for it."""

from __future__ import annotations

import os
import time

import httpx

from app.common import tls

METADATA_HOST = "metadata.google.internal"
METADATA_HEADERS = {"Metadata-Flavor": "Google"}
TOKEN_PATH = "instance/service-accounts/default/token"


def metadata_url(path: str) -> str:
    """The metadata server's ``computeMetadata/v1/<path>``."""
    return f"http://{os.environ.get('GCE_METADATA_HOST') or METADATA_HOST}/computeMetadata/v1/{path}"


class AccessToken:
    """The service account's access token from the metadata server, cached until a minute before it expires.
    ``get`` with an ``httpx.AsyncClient`` (request handlers), ``get_blocking`` with an ``httpx.Client`` (the metrics
    exporter's thread)."""

    def __init__(self, http: httpx.AsyncClient | httpx.Client, url: str | None = None) -> None:
        self.http = http
        self.url = url or metadata_url(TOKEN_PATH)
        self._value: str | None = None
        self._refresh_at = 0.0

    def _cached(self) -> str | None:
        return self._value if self._value is not None and time.monotonic() < self._refresh_at else None

    def _keep(self, resp: httpx.Response) -> str:
        resp.raise_for_status()
        payload = resp.json()
        self._value = str(payload["access_token"])
        self._refresh_at = time.monotonic() + max(0, int(payload.get("expires_in", 300)) - 60)
        return self._value

    async def get(self) -> str:
        assert isinstance(self.http, httpx.AsyncClient)
        return self._cached() or self._keep(await self.http.get(self.url, headers=METADATA_HEADERS))

    def get_blocking(self) -> str:
        assert isinstance(self.http, httpx.Client)
        return self._cached() or self._keep(self.http.get(self.url, headers=METADATA_HEADERS))


def google_api(
    endpoint: str, emulator_host: str | None, timeout: float
) -> tuple[httpx.AsyncClient, str, AccessToken | None]:
    """(client, base URL, token) for a Google REST API; with an emulator (tests, `grid local`) plain HTTP to it
    and no token: the local cloud knows the caller by the listener it calls."""
    http = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=5.0), verify=tls.context())
    if emulator_host:
        return http, f"http://{emulator_host}", None
    return http, endpoint, AccessToken(http)


def google_api_blocking(
    endpoint: str, emulator: str | None, timeout: float
) -> tuple[httpx.Client, str, AccessToken | None]:
    """``google_api`` for a caller on a thread of its own; ``emulator`` is the fake's base URL (no token)."""
    http = httpx.Client(timeout=httpx.Timeout(timeout, connect=5.0), verify=tls.context())
    if emulator:
        return http, emulator.rstrip("/"), None
    return http, endpoint, AccessToken(http)
