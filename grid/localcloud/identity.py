"""The local issuer standing for Google's token service, and a metadata server per workload.

Workloads reach their metadata server through the standard ``GCE_METADATA_HOST`` / ``GCE_METADATA_IP``
variables, so google-auth's own Compute Engine code path runs
(https://cloud.google.com/compute/docs/metadata/querying-metadata,
https://cloud.google.com/run/docs/container-contract#metadata-server). Each server answers for one service
account: ID tokens for any audience (https://cloud.google.com/run/docs/authenticating/service-to-service) and
access tokens. Tokens are RS256 JWTs signed by the local issuer's key; the emulated front ends verify them.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

GOOGLE_ISSUER = "https://accounts.google.com"
TOKEN_LIFETIME = 3600


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class Caller:
    email: str
    audience: str


class Issuer:
    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.key = key
        numbers = key.public_key().public_numbers()
        self.kid = hashlib.sha256(str(numbers.n).encode()).hexdigest()[:16]
        self.jwks = {
            "keys": [
                {
                    "kty": "RSA",
                    "alg": "RS256",
                    "use": "sig",
                    "kid": self.kid,
                    "n": _b64(numbers.n),
                    "e": _b64(numbers.e),
                }
            ]
        }

    def id_token(self, email: str, audience: str) -> str:
        """A Google-shaped ID token for the service account ``email`` (format=full: it carries the email)."""
        now = int(time.time())
        claims = {
            "iss": GOOGLE_ISSUER,
            "aud": audience,
            "azp": email,
            "sub": str(int(hashlib.sha256(email.encode()).hexdigest()[:15], 16)),
            "email": email,
            "email_verified": True,
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    def access_token(self, email: str) -> str:
        """An opaque-to-callers access token; the local Google APIs read the identity back from it."""
        return self.id_token(email, "https://oauth2.googleapis.com/token")

    def verify(self, token: str, audiences: set[str] | None = None) -> Caller:
        """The caller a token stands for; raises jwt.PyJWTError when forged, expired or for another audience."""
        claims = jwt.decode(
            token,
            self.key.public_key(),
            algorithms=["RS256"],
            issuer=GOOGLE_ISSUER,
            options={"verify_aud": False, "require": ["exp", "iat", "aud", "email"]},
        )
        if audiences is not None and claims["aud"].rstrip("/") not in {a.rstrip("/") for a in audiences}:
            raise jwt.InvalidAudienceError(claims["aud"])
        return Caller(claims["email"], claims["aud"])


def metadata_routes(issuer: Issuer, email: str, project: str) -> list[Route]:
    """The metadata server paths google-auth and the apps use, for the service account ``email``."""

    def flavored(response: Response) -> Response:
        response.headers["Metadata-Flavor"] = "Google"
        return response

    def guard(request: Request) -> Response | None:
        # The real server refuses requests without the header (SSRF protection); so does this one.
        if request.headers.get("metadata-flavor") != "Google":
            return flavored(PlainTextResponse("Missing Metadata-Flavor:Google header.", status_code=403))
        return None

    async def root(request: Request) -> Response:
        return flavored(PlainTextResponse("computeMetadata/"))

    async def identity(request: Request) -> Response:
        if (refused := guard(request)) is not None:
            return refused
        audience = request.query_params.get("audience")
        if not audience:
            return flavored(PlainTextResponse("audience parameter required", status_code=400))
        return flavored(PlainTextResponse(issuer.id_token(email, audience)))

    async def token(request: Request) -> Response:
        if (refused := guard(request)) is not None:
            return refused
        return flavored(
            JSONResponse(
                {"access_token": issuer.access_token(email), "expires_in": TOKEN_LIFETIME, "token_type": "Bearer"}
            )
        )

    async def account(request: Request) -> Response:
        if (refused := guard(request)) is not None:
            return refused
        info: dict[str, Any] = {
            "aliases": ["default"],
            "email": email,
            "scopes": ["https://www.googleapis.com/auth/cloud-platform"],
        }
        return flavored(JSONResponse(info))

    async def account_email(request: Request) -> Response:
        if (refused := guard(request)) is not None:
            return refused
        return flavored(PlainTextResponse(email))

    async def project_id(request: Request) -> Response:
        if (refused := guard(request)) is not None:
            return refused
        return flavored(PlainTextResponse(project))

    base = "/computeMetadata/v1"
    sa = f"{base}/instance/service-accounts/{{account}}"
    return [
        Route("/", root),
        Route(f"{sa}/identity", identity),
        Route(f"{sa}/token", token),
        Route(f"{sa}/email", account_email),
        Route(f"{sa}/", account),
        Route(f"{base}/project/project-id", project_id),
    ]


def certs_route(issuer: Issuer) -> Route:
    """Google's OAuth2 signing keys (https://www.googleapis.com/oauth2/v3/certs), here the local issuer's: what an
    app that verifies Google-signed tokens itself (ai's Pub/Sub push endpoint) fetches."""

    async def certs(request: Request) -> Response:
        return JSONResponse(issuer.jwks)

    return Route("/oauth2/v3/certs", certs)


def metadata_app(issuer: Issuer, email: str, project: str) -> Starlette:
    return Starlette(routes=metadata_routes(issuer, email, project))
