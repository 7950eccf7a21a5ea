"""Pub/Sub push delivery of message.created to the indexer (the cloud path; locally Redis Streams feed it).

Pub/Sub POSTs each message as a request, so indexing runs while the request holds CPU: nothing runs between
requests, which Cloud Run's request-based billing would starve, and a GPU service scaled to zero is started by the
delivery itself (https://cloud.google.com/pubsub/docs/push). A 2xx acknowledges; anything else is redelivered
with backoff and, after the subscription's attempts, dead-lettered.

Each push carries an OIDC token Pub/Sub mints for the stack's invoker account. Behind the load balancer the ai
service admits unauthenticated requests (Cloud Armor guards it), so the token is verified here too: Google's
signature, the audience the subscription was given, and the invoker's email
(https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from typing import Any

import jwt

GOOGLE_CERTS = "https://www.googleapis.com/oauth2/v3/certs"
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")


class InvalidPush(Exception):
    pass


class PushVerifier:
    """Verifies the OIDC token of a Pub/Sub push (PyJWT's JWKS client caches Google's keys)."""

    def __init__(self, audience: str, email: str, *, jwks_url: str = GOOGLE_CERTS) -> None:
        self.audience = audience
        self.email = email
        self.keys = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600)

    async def verify(self, authorization: str | None) -> dict[str, Any]:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise InvalidPush("no bearer token")
        try:
            key = await asyncio.to_thread(self.keys.get_signing_key_from_jwt, token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.audience,
                options={"require": ["exp", "iat", "iss", "aud", "email"]},
            )
        except (jwt.PyJWTError, ValueError) as exc:
            raise InvalidPush(type(exc).__name__) from exc
        if claims["iss"] not in GOOGLE_ISSUERS or claims["email"] != self.email or not claims.get("email_verified"):
            raise InvalidPush("not the stack's push identity")
        return claims


def envelope_event(envelope: Any) -> tuple[str, dict[str, Any]] | None:
    """(type, data) of a push envelope's message, or None when it can never be parsed (then it is acked)."""
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(message, dict):
        return None
    try:
        data = json.loads(base64.b64decode(message.get("data", ""), validate=True))
    except (binascii.Error, ValueError):
        return None
    event_type = (message.get("attributes") or {}).get("type", "")
    return (event_type, data) if isinstance(data, dict) else None
