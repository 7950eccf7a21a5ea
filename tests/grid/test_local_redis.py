"""grid.local.LocalRedis: AUTH required and private files, as the cloud's Memorystore with AUTH."""

from __future__ import annotations

import shutil
import socket
import stat
import tempfile
from pathlib import Path

import pytest
import redis

from grid.local import LocalRedis


@pytest.fixture
def private_dir():
    root = Path(tempfile.mkdtemp(prefix="grid-local-redis-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _raw(port: int, command: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(command)
        return s.recv(256)


def test_local_redis_requires_auth_and_writes_owner_only_files(private_dir):
    directory = private_dir / "redis"
    directory.mkdir(mode=0o755)
    (directory / "appendonly.aof").write_bytes(b"")  # left world-readable by an older version
    (directory / "appendonly.aof").chmod(0o644)
    server = LocalRedis(directory, persist=True)
    server.start()
    try:
        assert _raw(server.port, b"PING\r\n").startswith(b"-NOAUTH")
        # Not on the command line, where any local user's `ps` would read it.
        assert server.password.encode() not in Path(f"/proc/{server.proc.pid}/cmdline").read_bytes()
        client = redis.Redis.from_url(server.url)
        client.set("grid:probe", "cached message text")
        client.execute_command("BGREWRITEAOF")
        client.close()
    finally:
        server.stop()
    files = [p for p in directory.rglob("*") if p.is_file()]
    assert any(p.name.startswith("appendonly") for p in files)
    for path in [directory, *files]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path

    # A restart on the same data keeps the password, so the services' REDIS_URL stays valid.
    again = LocalRedis(directory, port=server.port, persist=True)
    assert again.url == server.url
    again.start()
    try:
        client = redis.Redis.from_url(again.url)
        assert client.get("grid:probe") == b"cached message text"
        client.close()
    finally:
        again.stop()
