"""Google-signed ID tokens for calling a private Cloud Run service as this workload's service account.

A Cloud Run service that does not admit ``allUsers`` answers 403 to a request without an ID token whose audience
is the service's URL and whose identity holds ``run.invoker`` on it
(https://cloud.google.com/run/docs/authenticating/service-to-service). The token comes from google-auth's standard
path, ``google.oauth2.id_token.fetch_id_token_credentials``: a service-account key file named by
``GOOGLE_APPLICATION_CREDENTIALS`` if set, else the metadata server's identity endpoint. google-auth reaches the
metadata server at ``GCE_METADATA_HOST`` (read when google-auth is imported) after probing ``GCE_METADATA_IP``,
so a local emulator is used by setting both in the process's environment.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any


class IdTokenUnavailable(OSError):
    """No ID token could be had (no metadata server, no credentials, or the server refused)."""


class GoogleIdToken:
    """An ID token for ``audience``, refreshed by google-auth when it expires (tokens live an hour)."""

    def __init__(self, audience: str) -> None:
        self.audience = audience
        self._credentials: Any = None
        self._lock = threading.Lock()  # google-auth's credentials are not safe to refresh concurrently

    async def get(self) -> str:
        # google-auth's transport is synchronous (requests): keep it off the event loop.
        return await asyncio.to_thread(self._get)

    def _get(self) -> str:
        import google.auth.exceptions
        import google.auth.transport.requests
        import google.oauth2.id_token

        with self._lock:
            request = google.auth.transport.requests.Request()
            try:
                if self._credentials is None:
                    self._credentials = google.oauth2.id_token.fetch_id_token_credentials(
                        self.audience, request=request
                    )
                if not self._credentials.valid:
                    self._credentials.refresh(request)
            except google.auth.exceptions.GoogleAuthError as exc:
                raise IdTokenUnavailable(f"no ID token for {self.audience}: {type(exc).__name__}") from exc
            return str(self._credentials.token)
