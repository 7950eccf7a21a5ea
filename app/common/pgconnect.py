"""How a workload connects to Postgres from DATABASE_URL and DATABASE_CA_CERT: server verification and poolers.

Standard library only: the Cloud Functions deploy this file next to their own code (stacks/serving.py).

- Server verification. With DATABASE_CA_CERT (Cloud SQL's per-instance CA, or a provider's own CA such as
  Supabase's) the server is verified against exactly those certificates (``sslrootcert=<file>``); without it,
  ``sslmode=verify-full`` verifies against the system's CAs, where libpq would otherwise look for
  ~/.postgresql/root.crt, which a container does not have. Not with libpq's ``sslrootcert=system`` (libpq 16+:
  https://www.postgresql.org/docs/current/libpq-ssl.html#LIBQ-SSL-CERTIFICATES): that loads the default roots of
  the OpenSSL libpq is linked with, and psycopg's binary wheel bundles an OpenSSL built with
  ``--openssldir=/usr/lib/psycopg-openssl`` (psycopg's tools/ci/build_libpq.sh), a directory no image has, so
  unless SSL_CERT_FILE is set every verification fails. The system's bundle file is named instead (``system_cas``).
- Transaction poolers (PgBouncer, Supabase's Supavisor on port 6543) hand each transaction to any server
  connection, so a statement prepared on one is unknown on the next: psycopg prepares a query after it ran 5
  times (https://www.psycopg.org/psycopg3/docs/advanced/prepare.html), which must be off there
  (``prepare_threshold=None``, https://www.psycopg.org/psycopg3/docs/advanced/pgbouncer.html). A URL says it
  goes through one with ``pgbouncer=true`` (the parameter Supabase's connection strings use; libpq would refuse
  it, so it is removed here) or by Supavisor's transaction port 6543.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRANSACTION_POOLER_PORT = 6543  # Supabase's Supavisor in transaction mode
# Where distributions keep the system's CA bundle: Debian and Ubuntu (the python images, Cloud Functions' Ubuntu
# runtimes), RHEL/Fedora, Alpine and macOS.
SYSTEM_CA_FILES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem")
VERIFYING_MODES = ("verify-ca", "verify-full")


def ca_file(pem: str) -> str:
    """``pem`` in a file libpq can read (``sslrootcert`` takes a path), named by its content: written once."""
    path = Path(tempfile.gettempdir()) / f"grid-db-ca-{hashlib.sha256(pem.encode()).hexdigest()[:16]}.pem"
    if not path.is_file() or path.read_text() != pem:
        path.write_text(pem)
    return str(path)


def system_cas() -> str:
    """The system's CA bundle for ``sslrootcert``: SSL_CERT_FILE when set (as OpenSSL itself honours it), else
    Python's own OpenSSL default file, else the first distribution bundle present; ``system`` (libpq's choice) only
    when there is none."""
    candidates = [os.environ.get("SSL_CERT_FILE"), ssl.get_default_verify_paths().cafile, *SYSTEM_CA_FILES]
    return next((path for path in candidates if path and os.path.isfile(path)), "system")


def sslmode(url: str) -> str | None:
    return dict(parse_qsl(urlsplit(url).query)).get("sslmode")


def connect_args(url: str, ca_pem: str | None = None) -> tuple[str, dict[str, Any]]:
    """(conninfo for libpq, extra psycopg connection arguments) for DATABASE_URL and DATABASE_CA_CERT."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = {k: v for k, v in query}
    pooled = params.pop("pgbouncer", "").lower() == "true" or parts.port == TRANSACTION_POOLER_PORT
    if ca_pem:
        params["sslrootcert"] = ca_file(ca_pem)
    elif params.get("sslmode") == "verify-full" and "sslrootcert" not in params:  # system CAs: with the name checked
        params["sslrootcert"] = system_cas()
    conninfo = urlunsplit(parts._replace(query=urlencode(params)))
    return conninfo, ({"prepare_threshold": None} if pooled else {})
