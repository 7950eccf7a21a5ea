"""How a service that is not auth verifies access tokens: against auth's published keys, fetched as the plan says.

Where the plan points JWKS_URL at auth's private Cloud Run URL it also sets JWKS_AUDIENCE, and the keys are fetched
with a Google-signed ID token for that audience; through a public path (the load balancer's hostname) no token.
"""

from __future__ import annotations

from app.common.idtoken import GoogleIdToken
from app.common.security import JwksKeys, TokenVerifier
from app.common.settings import VerifyingServiceSettings


def jwks_verifier(settings: VerifyingServiceSettings) -> TokenVerifier:
    id_token = GoogleIdToken(settings.jwks_audience).get if settings.jwks_audience else None
    return TokenVerifier(
        JwksKeys(settings.jwks_url, id_token=id_token), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
