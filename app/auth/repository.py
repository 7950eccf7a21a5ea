"""All SQL of the auth service."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.errors import UniqueViolation

from app.common.db import Conn


class EmailTaken(Exception):
    pass


async def insert_user(conn: Conn, email: str, password_hash: str, display_name: str) -> dict[str, Any]:
    try:
        async with conn.transaction():
            cur = await conn.execute(
                "INSERT INTO users (email, password_hash, display_name) VALUES (%s, %s, %s)"
                " RETURNING id, email, display_name",
                (email, password_hash, display_name),
            )
            row = await cur.fetchone()
    except UniqueViolation:
        raise EmailTaken() from None
    assert row is not None
    return row


async def user_by_email(conn: Conn, email: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        "SELECT id, email, display_name, password_hash FROM users WHERE lower(email) = lower(%s)", (email,)
    )
    return await cur.fetchone()


async def user_by_id(conn: Conn, user_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute("SELECT id, email, display_name FROM users WHERE id = %s", (user_id,))
    return await cur.fetchone()


async def update_password_hash(conn: Conn, user_id: UUID, password_hash: str) -> None:
    await conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id))


async def insert_refresh_token(
    conn: Conn, *, user_id: UUID, family_id: UUID, token_hash: bytes, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at) VALUES (%s, %s, %s, %s)",
        (user_id, family_id, token_hash, expires_at),
    )


async def lock_refresh_token(conn: Conn, token_hash: bytes) -> dict[str, Any] | None:
    # FOR UPDATE serialises concurrent refreshes of one token: exactly one rotates it, the other sees reuse.
    cur = await conn.execute(
        "SELECT id, user_id, family_id, expires_at, rotated_at, revoked_at, expires_at <= now() AS expired"
        " FROM refresh_tokens WHERE token_hash = %s FOR UPDATE",
        (token_hash,),
    )
    return await cur.fetchone()


async def mark_rotated(conn: Conn, token_id: UUID) -> None:
    await conn.execute("UPDATE refresh_tokens SET rotated_at = now() WHERE id = %s", (token_id,))


async def revoke_family(conn: Conn, family_id: UUID) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = %s AND revoked_at IS NULL", (family_id,)
    )
