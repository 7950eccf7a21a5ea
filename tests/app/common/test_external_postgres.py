"""Postgres outside Google Cloud (Supabase) and Cloud SQL's verified TLS, from the app's side: how DATABASE_URL and
DATABASE_CA_CERT become a connection, and migrations on a provider without pgvector (a real embedded server)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from app.common.migrations import Migration, MigrationError, apply_migrations, load_migrations, required_extensions
from app.common.pgconnect import connect_args, system_cas
from app.common.settings import ServiceSettings

SUPABASE_POOLED = (
    "postgresql://grid_app.abcd:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres?sslmode=verify-full"
)
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def _params(conninfo: str) -> dict[str, str]:
    return {k: v for k, v in psycopg.conninfo.conninfo_to_dict(conninfo).items() if v is not None}


def test_verify_full_without_a_ca_uses_the_system_cas_and_the_pooler_port_turns_prepared_statements_off() -> None:
    conninfo, options = connect_args(SUPABASE_POOLED)
    params = _params(conninfo)
    # The system's bundle by its path (SSL_CERT_FILE here), not libpq's "system" (test_cloudsql_tls.py says why).
    assert params["sslmode"] == "verify-full" and params["sslrootcert"] == system_cas() != "system"
    assert params["port"] == "6543" and options == {"prepare_threshold": None}


def test_a_ca_is_pinned_from_a_file_and_pgbouncer_true_is_the_apps_not_libpqs() -> None:
    url = "postgresql://u:p@db.abcd.supabase.co:5432/postgres?sslmode=verify-full&pgbouncer=true"
    conninfo, options = connect_args(url, PEM)
    params = _params(conninfo)  # libpq parses it: no unknown `pgbouncer` parameter left
    assert Path(params["sslrootcert"]).read_text() == PEM
    assert "pgbouncer" not in conninfo and options == {"prepare_threshold": None}


def test_a_direct_connection_keeps_prepared_statements() -> None:
    _, options = connect_args("postgresql://u:p@10.20.0.3:5432/grid?sslmode=verify-ca", PEM)
    assert options == {}


@pytest.mark.parametrize("mode", ["require", "disable", None])
def test_a_ca_with_a_url_that_does_not_verify_is_refused(mode: str | None) -> None:
    url = "postgresql://u:p@10.20.0.3:5432/grid" + (f"?sslmode={mode}" if mode else "")
    with pytest.raises(ValueError, match="DATABASE_CA_CERT is set but DATABASE_URL does not verify the server"):
        ServiceSettings(DATABASE_URL=url, DATABASE_CA_CERT=PEM)


def test_the_migrations_need_pgvector() -> None:
    assert required_extensions(load_migrations()) == ["vector"]


@pytest.fixture
def bare_database(postgres):
    """A fresh database owned by an ordinary role, with no extension created ahead (a provider's new project)."""
    name, role = f"bare_{uuid.uuid4().hex[:8]}", f"r_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER").format(sql.Identifier(role)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(role)))
    yield postgres._server.get_postmaster_info().get_uri(user=role, database=name)
    with psycopg.connect(postgres.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_role_that_may_not_create_pgvector_gets_the_fix_and_nothing_is_applied(bare_database: str) -> None:
    with pytest.raises(MigrationError, match=r"may not create the 'vector' extension: enable it once.*Supabase"):
        asyncio.run(apply_migrations(bare_database))
    with psycopg.connect(bare_database) as conn:  # one transaction: not even the first migration stays
        assert conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None


def test_a_provider_without_the_extension_is_named(bare_database: str) -> None:
    missing = Migration(1, "needs_it", "CREATE EXTENSION IF NOT EXISTS grid_not_offered_here;\nCREATE TABLE t (i int);")
    with pytest.raises(MigrationError, match="does not offer the 'grid_not_offered_here' extension"):
        asyncio.run(apply_migrations(bare_database, [missing]))


def test_with_pgvector_enabled_by_an_administrator_the_migrations_run(bare_database: str, postgres) -> None:
    admin = postgres._server.get_uri(database=psycopg.conninfo.conninfo_to_dict(bare_database)["dbname"])
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vector")
    applied = asyncio.run(apply_migrations(bare_database))
    assert applied == [m.version for m in load_migrations()]
