"""Versioned SQL migrations, applied in order in one transaction under a Postgres advisory lock.

Several instances may start at once (Cloud Run scale-out); the transaction-level advisory lock makes exactly one
apply pending migrations while the others wait and then find nothing to do. One transaction (not a session lock
held across several) so it also works through a transaction pooler (Supabase's port 6543), which may hand each
transaction to another server connection; and a failed run leaves nothing half-applied. Applied files are
checksummed so an edited migration is refused instead of silently diverging between environments.

Extensions the pending migrations create (pgvector) are checked first: a provider that does not offer one, or a
role that may not create it, gets one line saying so and what to do, not an error from the middle of a file.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from app.common.pgconnect import connect_args
from app.common.startup import retry_connect

log = logging.getLogger("app.migrations")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Arbitrary constant shared by every instance: "grid" in ASCII.
_LOCK_KEY = 0x67726964
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_CREATE_EXTENSION = re.compile(r"^\s*CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?\"?(\w+)", re.I | re.M)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    pass


def required_extensions(migrations: list[Migration]) -> list[str]:
    """Extensions ``migrations`` create, in order of first mention."""
    names: dict[str, None] = {}
    for mig in migrations:
        names.update(dict.fromkeys(m.lower() for m in _CREATE_EXTENSION.findall(mig.sql)))
    return list(names)


async def _check_extensions(conn: psycopg.AsyncConnection, names: list[str]) -> None:
    """Each of ``names`` is installed, or offered and creatable by this role; else MigrationError with the fix."""
    for name in names:
        cur = await conn.execute("SELECT 1 FROM pg_extension WHERE extname = %s", (name,))
        if await cur.fetchone():
            continue
        cur = await conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", (name,))
        if not await cur.fetchone():
            raise MigrationError(
                f"the database does not offer the '{name}' extension, which Grid's migrations need "
                f"(pgvector for the ai service's embeddings): use a Postgres that offers it (Cloud SQL and "
                f"Supabase do)"
            )
        try:
            async with conn.transaction():  # a savepoint: a refusal leaves the outer transaction usable
                await conn.execute(f'CREATE EXTENSION IF NOT EXISTS "{name}"')
        except psycopg.errors.InsufficientPrivilege:
            raise MigrationError(
                f"the database role may not create the '{name}' extension: enable it once as an administrator "
                f"(Supabase: Database > Extensions > {name}; or `CREATE EXTENSION {name};` as the owner), then "
                f"rerun the migrations"
            ) from None


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise MigrationError(f"bad migration file name: {path.name}")
        found.append(Migration(int(m.group(1)), m.group(2), path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("duplicate migration versions")
    return found


async def apply_migrations(
    url: str,
    migrations: list[Migration] | None = None,
    *,
    connect_budget: float = 0.0,
    ca_pem: str | None = None,
) -> list[int]:
    """Apply pending migrations; return the versions applied by this call.

    The first connection is retried for ``connect_budget`` seconds: the migrations job may start before its
    Direct VPC egress connects. ``ca_pem``: DATABASE_CA_CERT (app/common/pgconnect.py).
    """
    migrations = load_migrations() if migrations is None else migrations
    applied_now: list[int] = []
    conninfo, options = connect_args(url, ca_pem)
    connection = await retry_connect(
        lambda: psycopg.AsyncConnection.connect(conninfo, autocommit=True, connect_timeout=10, **options),
        what="database",
        budget=connect_budget,
        retry_on=(psycopg.OperationalError,),
    )
    async with connection as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))  # held until the transaction ends
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        cur = await conn.execute("SELECT version, checksum FROM schema_migrations")
        done = {v: c for v, c in await cur.fetchall()}
        await _check_extensions(conn, required_extensions([m for m in migrations if m.version not in done]))
        for mig in migrations:
            if mig.version in done:
                if done[mig.version] != mig.checksum:
                    raise MigrationError(f"migration {mig.version}_{mig.name} changed after it was applied")
                continue
            async with conn.transaction():
                await conn.execute(mig.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (mig.version, mig.name, mig.checksum),
                )
            log.info("applied migration %04d_%s", mig.version, mig.name)
            applied_now.append(mig.version)
    return applied_now


def main() -> int:
    """`python -m app.common.migrations`: the Cloud Run migrations job, run once per release before traffic moves.

    Reads DATABASE_URL (and LOG_LEVEL, GOOGLE_CLOUD_PROJECT) like the services; exits non-zero on failure so the
    pipeline stops before a new revision takes traffic.
    """
    import asyncio

    from app.common.logging import configure_logging
    from app.common.settings import ServiceSettings

    settings = ServiceSettings()  # type: ignore[call-arg]
    configure_logging(settings.log_level, settings.google_cloud_project)
    try:
        applied = asyncio.run(
            apply_migrations(
                settings.database_url.get_secret_value(),
                connect_budget=settings.startup_connect_seconds,
                ca_pem=settings.database_ca_cert,
            )
        )
    except (MigrationError, psycopg.Error) as exc:
        log.error("migrations failed: %s", type(exc).__name__ if isinstance(exc, psycopg.Error) else exc)
        return 1
    log.info("migrations up to date; applied now: %s", ", ".join(f"{v:04d}" for v in applied) or "none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
