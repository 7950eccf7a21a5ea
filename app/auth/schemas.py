from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from app.common.schemas import RequestBody

Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# Length limits beyond the schema are the password policy's job, which answers with a clearer message.
Password = Annotated[str, Field(min_length=1, max_length=1024)]


class RegisterIn(RequestBody):
    email: Email
    password: Password
    display_name: DisplayName


class LoginIn(RequestBody):
    email: Email
    password: Password


class RefreshIn(RequestBody):
    refresh_token: Annotated[str, Field(min_length=1, max_length=512)]


class UserOut(BaseModel):
    id: UUID
    email: str
    display_name: str


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class Jwks(BaseModel):
    keys: list[dict[str, str]]
