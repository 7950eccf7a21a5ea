"""A Postgres or Redis run outside Google Cloud (Supabase, Upstash): its config block and its URL's rules.

The URL is a secret config key the stack names (``grid:database: {external: {urlSecret: supabaseUrl}}`` and
``pulumi config set --secret grid:supabaseUrl 'postgresql://...'``); the models only learn the key's name. The
program stores the value in Secret Manager and the services read it by reference. Across the internet the
connection must be TLS that verifies the server: ``sslmode=verify-full`` for Postgres, ``rediss://`` for Redis.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, field_validator

from gridlib.config_base import ConfigModel
from gridlib.offline import OFFLINE_PLACEHOLDER

Store = Literal["database", "cache"]


_KEY = re.compile(r"^[a-z][A-Za-z0-9]{0,62}$")
_POSTGRES_SCHEMES = ("postgresql", "postgres")


class ExternalConfig(ConfigModel):
    """A database or cache outside Google Cloud, reached over the internet with TLS that verifies the server."""

    url_secret: str = Field(
        description="The grid: config key (camelCase) holding the connection URL, set with "
        "`pulumi config set --secret grid:<key> <url>`."
    )
    ca_cert: str | None = Field(
        None,
        description="PEM of the CA that signs the server's certificate when it is not a public CA (Supabase's "
        "Postgres: the dashboard's 'SSL certificate'); unset: the system's CAs. Public, not a secret.",
    )

    @field_validator("url_secret")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY.match(value):
            raise ValueError(f"'{value}' must be a camelCase config key like supabaseUrl (letters and digits)")
        return value

    @field_validator("ca_cert")
    @classmethod
    def _pem(cls, value: str | None) -> str | None:
        if value is not None and "-----BEGIN CERTIFICATE-----" not in value:
            raise ValueError("must be a PEM certificate (-----BEGIN CERTIFICATE----- ...)")
        return value


def url_problem(store: Store, key: str, url: str) -> str | None:
    """Why ``url`` (the value of ``grid:<key>``) cannot serve as ``store``, in one line that never shows it."""
    if url.startswith(OFFLINE_PLACEHOLDER):
        return None
    fix = f"run `pulumi config set --secret grid:{key} <url>`"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"grid:{key}: is not a URL: {fix}"
    if store == "database":
        if parts.scheme not in _POSTGRES_SCHEMES or not parts.hostname:
            return f"grid:{key}: must be a postgresql://user:password@host:port/database URL: {fix}"
        # `postgres` is the administrator a provider creates (Supabase's pooler spells it postgres.<ref>): it
        # bypasses row-level security, so the services would refuse it at their first start (app/common/db.py).
        if (parts.username or "").split(".", 1)[0] == "postgres":
            return (
                f"grid:{key}: connects as the provider's postgres administrator, which bypasses row-level security "
                f"and which the services refuse: create an ordinary role (docs/external-datastores.md) and {fix} "
                "with it"
            )
        modes = parse_qs(parts.query).get("sslmode", [])
        if modes != ["verify-full"]:
            return (
                f"grid:{key}: must end in ?sslmode=verify-full (TLS that verifies the server's name and certificate "
                f"across the internet): {fix} with sslmode=verify-full"
            )
        return None
    if parts.scheme != "rediss" or not parts.hostname:
        shown = f"{parts.scheme}://" if parts.scheme else "no scheme"
        return (
            f"grid:{key}: must be a rediss:// URL (TLS that verifies the server), not {shown}: "
            f"{fix} with rediss://default:<password>@<host>:{port or 6379}"
        )
    return None
