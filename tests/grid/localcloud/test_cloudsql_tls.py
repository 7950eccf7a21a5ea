"""The local Cloud SQL's TLS is like the real one's: a per-instance CA and a server certificate named after the
instance, with no name for the address clients dial (components/database.py CLOUD_SQL_SSLMODE). A real embedded
Postgres behind the local TLS terminator: verify-ca against the CA connects, verify-full cannot, a foreign CA
cannot."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from app.common.pgconnect import connect_args
from grid.local import LocalPostgres
from grid.localcloud.pki import LocalPki
from grid.localcloud.tls import TlsTerminator


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("cloudsql-tls")
    pki = LocalPki(root / "pki")
    postgres = LocalPostgres(tmp_path_factory.mktemp("cloudsql-pg") / "postgres", password="pw-for-tls")
    postgres.start()
    cert = pki.server_cert("cloudsql-instance", subject="acme-grid-dev:grid-dev-db")
    loop = asyncio.new_event_loop()
    terminator = TlsTerminator(postgres.socket_path, str(cert.cert_file), str(cert.key_file), postgres=True)
    port = loop.run_until_complete(terminator.start())
    import threading

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield pki, f"postgresql://grid_app:pw-for-tls@127.0.0.1:{port}/grid"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    postgres.close()


def _connect(url: str, ca_pem: str | None) -> str:
    conninfo, options = connect_args(url, ca_pem)
    with psycopg.connect(conninfo, connect_timeout=5, **options) as conn:
        return conn.execute("SELECT current_user").fetchone()[0]


def test_verify_ca_with_the_instances_ca_connects(server) -> None:
    pki, url = server
    assert _connect(url + "?sslmode=verify-ca", pki.ca_pem) == "grid_app"


def test_verify_full_fails_like_against_cloud_sql(server) -> None:
    pki, url = server
    with pytest.raises(psycopg.OperationalError, match=r"does not match host name|server certificate"):
        _connect(url + "?sslmode=verify-full", pki.ca_pem)


def test_another_ca_is_refused(server, tmp_path) -> None:
    _, url = server
    with pytest.raises(psycopg.OperationalError, match="SSL error"):
        _connect(url + "?sslmode=verify-ca", LocalPki(tmp_path / "other").ca_pem)
