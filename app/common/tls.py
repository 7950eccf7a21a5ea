"""One TLS context for every outbound HTTPS client of a process.

httpx builds a new ``ssl.SSLContext`` for each client it creates, loading certifi's CA bundle each time: ~50 ms of
CPU per client on this machine, on the cold-start path of each service that makes its clients as it starts (the ai
service makes four). A configured context may be shared by many connections, so each process makes one, when its
first client asks, with httpx's own defaults (certifi's roots; SSL_CERT_FILE and SSL_CERT_DIR honoured, as read
then). httpcore sets the context's ALPN protocols for each connection it opens, always the same while no client
asks for HTTP/2 (none does): a client with ``http2=True`` would need a context of its own.

Standard library and httpx only, so a job's image can copy this module with pubsub.py."""

from __future__ import annotations

import functools
import ssl


@functools.cache
def context() -> ssl.SSLContext:
    """The process's TLS context for httpx clients (``verify=context()``)."""
    import httpx  # only processes that make a client pay for importing it

    return httpx.create_ssl_context()
