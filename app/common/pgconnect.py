"""How a workload connects to Postgres from DATABASE_URL and DATABASE_CA_CERT: server verification and poolers.

Standard library only: the Cloud Functions deploy this file next to their own code (stacks/serving.py).

- Server verification. With DATABASE_CA_CERT (Cloud SQL's per-instance CA, or a provider's own CA such as
  Supabase's) the server is verified against exactly those certificates (``sslrootcert=<file>``); without it,
  ``sslmode=verify-full`` verifies against the system's CAs (``sslrootcert=system``, libpq 16+:
  https://www.postgresql.org/docs/current/libpq-ssl.html#LIBQ-SSL-CERTIFICATES), where libpq would otherwise look
  for ~/.postgresql/root.crt, which a container does not have.
- Transaction poolers (PgBouncer, Supabase's Supavisor on port 6543) hand each transaction to any server
  connection, so a statement prepared on one is unknown on the next: psycopg prepares a query after it ran 5
  times (https://www.psycopg.org/psycopg3/docs/advanced/prepare.html), which must be off there
  (``prepare_threshold=None``, https://www.psycopg.org/psycopg3/docs/advanced/pgbouncer.html). A URL says it
  goes through one with ``pgbouncer=true`` (the parameter Supabase's connection strings use; libpq would refuse
  it, so it is removed here) or by Supavisor's transaction port 6543.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRANSACTION_POOLER_PORT = 6543  # Supabase's Supavisor in transaction mode
VERIFYING_MODES = ("verify-ca", "verify-full")


def ca_file(pem: str) -> str:
    """``pem`` in a file libpq can read (``sslrootcert`` takes a path), named by its content: written once."""
    path = Path(tempfile.gettempdir()) / f"grid-db-ca-{hashlib.sha256(pem.encode()).hexdigest()[:16]}.pem"
    if not path.is_file() or path.read_text() != pem:
        path.write_text(pem)
    return str(path)


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
    elif params.get("sslmode") == "verify-full" and "sslrootcert" not in params:  # libpq: system needs verify-full
        params["sslrootcert"] = "system"
    conninfo = urlunsplit(parts._replace(query=urlencode(params)))
    return conninfo, ({"prepare_threshold": None} if pooled else {})
