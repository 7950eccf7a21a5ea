"""HTTP routes of the auth service: thin adapters from requests to AuthService."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from app.auth.repository import EmailTaken
from app.auth.schemas import Jwks, LoginIn, RefreshIn, RegisterIn, TokenPair, UserOut
from app.auth.service import AuthService, InvalidCredentials, Throttled, Tokens, WeakPassword
from app.common.caching import PUBLIC_JWKS, cache_policy
from app.common.clientip import client_ip
from app.common.security import Principal, current_principal

router = APIRouter(prefix="/auth", tags=["auth"])

_BAD_CREDENTIALS = HTTPException(401, "invalid credentials", headers={"WWW-Authenticate": "Bearer"})


async def _service(request: Request) -> AuthService:
    return request.app.state.auth


def _ip(request: Request) -> str:
    return client_ip(request, request.app.state.settings.trusted_proxy_hops)


Service = Annotated[AuthService, Depends(_service)]


def _too_many(exc: Throttled) -> HTTPException:
    return HTTPException(429, "too many attempts, retry later", headers={"Retry-After": str(exc.retry_after)})


def _pair(tokens: Tokens) -> TokenPair:
    return TokenPair(access_token=tokens.access_token, refresh_token=tokens.refresh_token, expires_in=tokens.expires_in)


@router.post(
    "/register",
    status_code=201,
    response_model=UserOut,
    responses={409: {"description": "email already registered"}, 429: {"description": "rate limited"}},
)
async def register(body: RegisterIn, request: Request, service: Service) -> UserOut:
    try:
        user = await service.register(body.email, body.password, body.display_name, _ip(request))
    except WeakPassword as exc:
        raise HTTPException(422, str(exc)) from None
    except EmailTaken:
        raise HTTPException(409, "email already registered") from None
    except Throttled as exc:
        raise _too_many(exc) from None
    return UserOut(**user)


@router.post(
    "/login",
    response_model=TokenPair,
    responses={401: {"description": "bad credentials"}, 429: {"description": "too many failures"}},
)
async def login(body: LoginIn, request: Request, service: Service) -> TokenPair:
    try:
        return _pair(await service.login(body.email, body.password, _ip(request)))
    except InvalidCredentials:
        raise _BAD_CREDENTIALS from None
    except Throttled as exc:
        raise _too_many(exc) from None


@router.post("/refresh", response_model=TokenPair, responses={401: {"description": "invalid refresh token"}})
async def refresh(body: RefreshIn, service: Service) -> TokenPair:
    try:
        return _pair(await service.refresh(body.refresh_token))
    except InvalidCredentials:
        raise _BAD_CREDENTIALS from None


@router.post("/logout", status_code=204, response_class=Response)
async def logout(body: RefreshIn, service: Service) -> Response:
    await service.logout(body.refresh_token)
    return Response(status_code=204)


@router.get("/me", response_model=UserOut, responses={401: {"description": "not authenticated"}})
async def me(principal: Annotated[Principal, Depends(current_principal)], service: Service) -> UserOut:
    user = await service.me(principal.user_id)
    if user is None:
        raise _BAD_CREDENTIALS
    return UserOut(**user)


@router.get("/.well-known/jwks.json", response_model=Jwks)
@cache_policy(PUBLIC_JWKS)
async def jwks(service: Service) -> Jwks:
    return Jwks(**service.jwks())
