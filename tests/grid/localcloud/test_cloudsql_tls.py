"""The local Cloud SQL's TLS is like the real one's: a per-instance CA and a server certificate named after the
instance, with no name for the address clients dial (components/database.py CLOUD_SQL_SSLMODE). A real embedded
Postgres behind the local TLS terminator: verify-ca against the CA connects, verify-full cannot, a foreign CA
cannot.

And an external provider's Postgres verified against the system's CAs, as in a container: the image's CA bundle
holds the CA that signed the server's named certificate, and SSL_CERT_FILE is not set."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Iterator

import psycopg
import pytest

from app.common import pgconnect
from app.common.pgconnect import connect_args
from grid.local import LocalPostgres
from grid.localcloud.pki import LocalPki
from grid.localcloud.tls import TlsTerminator


@contextlib.contextmanager
def _tls_postgres(tmp_path_factory, name: str, subject: str | None) -> Iterator[tuple[LocalPki, str]]:
    """A real Postgres behind the local TLS terminator, its certificate from a fresh local CA (``subject``: named
    like a Cloud SQL instance's, no subject-alternative name; None: for 127.0.0.1 and localhost)."""
    pki = LocalPki(tmp_path_factory.mktemp(f"{name}-pki"))
    postgres = LocalPostgres(tmp_path_factory.mktemp(f"{name}-pg") / "postgres", password="pw-for-tls")
    postgres.start()
    cert = pki.server_cert(name, subject=subject)
    loop = asyncio.new_event_loop()
    terminator = TlsTerminator(postgres.socket_path, str(cert.cert_file), str(cert.key_file), postgres=True)
    port = loop.run_until_complete(terminator.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield pki, f"postgresql://grid_app:pw-for-tls@127.0.0.1:{port}/grid"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        postgres.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with _tls_postgres(tmp_path_factory, "cloudsql-instance", "acme-grid-dev:grid-dev-db") as found:
        yield found


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    with _tls_postgres(tmp_path_factory, "provider", None) as found:
        yield found


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


@pytest.fixture
def container(provider, tmp_path, monkeypatch):
    """This process as a service image sees it: no SSL_CERT_FILE or SSL_CERT_DIR (this machine sets both), and the
    distribution's CA bundle holding the CA that signed the provider's certificate."""
    pki, url = provider
    bundle = tmp_path / "ca-certificates.crt"
    bundle.write_text(pki.ca_pem)
    for variable in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(variable, raising=False)
    defaults = ssl.get_default_verify_paths()
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: defaults._replace(cafile=None))
    monkeypatch.setattr(pgconnect, "SYSTEM_CA_FILES", (str(tmp_path / "absent.pem"), str(bundle)))
    return url + "?sslmode=verify-full", bundle


def test_verify_full_against_the_system_cas_uses_the_images_bundle(container) -> None:
    url, bundle = container
    assert psycopg.conninfo.conninfo_to_dict(connect_args(url)[0])["sslrootcert"] == str(bundle)
    assert _connect(url, None) == "grid_app"


def test_libpqs_own_system_roots_are_not_the_images(container) -> None:
    """Why pgconnect names the bundle: psycopg's binary wheel looks for "system" roots where its own OpenSSL was
    built (/usr/lib/psycopg-openssl), so in an image the same server fails verification."""
    url, _ = container
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(url + "&sslrootcert=system", connect_timeout=5).close()


def test_without_any_bundle_libpq_decides(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    defaults = ssl.get_default_verify_paths()
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: defaults._replace(cafile=None))
    monkeypatch.setattr(pgconnect, "SYSTEM_CA_FILES", (str(tmp_path / "absent.pem"),))
    assert pgconnect.system_cas() == "system"
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path))  # a directory is not a bundle file
    assert pgconnect.system_cas() == "system"
