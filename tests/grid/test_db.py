"""Backup and restore round trip on a real (embedded) PostgreSQL: row counts and checksums must match."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from grid import db
from grid.stackfile import CommandFailed, UsageError


@pytest.fixture(scope="module")
def postgres(postgres_data):
    from app.common.migrations import apply_migrations
    from grid.local import LocalPostgres

    pg = LocalPostgres(postgres_data)  # the app's database, "grid", on the session's server
    pg.start()
    asyncio.run(apply_migrations(pg.admin_url))
    import psycopg

    with psycopg.connect(pg.admin_url, autocommit=True) as conn:
        user = conn.execute(
            "INSERT INTO users (email, password_hash, display_name) VALUES ('a@example.com', 'x', 'A') RETURNING id"
        ).fetchone()[0]
        agent = conn.execute(
            "INSERT INTO agents (user_id, name, model) VALUES (%s, 'helper', 'm') RETURNING id", (user,)
        ).fetchone()[0]
        conversation = conn.execute(
            "INSERT INTO conversations (user_id, agent_id, title) VALUES (%s, %s, 't') RETURNING id", (user, agent)
        ).fetchone()[0]
        for i in range(50):
            conn.execute(
                "INSERT INTO messages (conversation_id, user_id, seq, role, content) VALUES (%s, %s, %s, 'user', %s)",
                (conversation, user, i + 1, f"message {i} <b>'; DROP TABLE users;--"),
            )
    return pg


def test_round_trip_is_verified(postgres, tmp_path: Path) -> None:
    archive = tmp_path / "backup.dump"
    manifest_path = db.backup(postgres.admin_url, archive)
    assert archive.stat().st_size > 0 and manifest_path.is_file()
    report = db.restore(postgres.admin_url, archive, "grid_restored")
    assert report.verified, report.mismatches
    assert report.rows >= 53
    original = db.manifest(postgres.admin_url)
    assert original["messages"].rows == 50
    assert db.manifest(db._with_database(postgres.admin_url, "grid_restored")) == original


def test_a_changed_restore_is_caught(postgres, tmp_path: Path) -> None:
    archive = tmp_path / "backup.dump"
    db.backup(postgres.admin_url, archive)
    # Tamper with the manifest's expectation, as if a row had been lost on the way.
    manifest_path = archive.with_name(archive.name + ".manifest.json")
    manifest_path.write_text(manifest_path.read_text().replace('"rows": 50', '"rows": 51'))
    report = db.restore(postgres.admin_url, archive, "grid_restored_bad")
    assert not report.verified
    assert any(line.startswith("messages: expected 51 rows") for line in report.mismatches)


def test_restore_refuses_an_existing_database(postgres, tmp_path: Path) -> None:
    archive = tmp_path / "backup.dump"
    db.backup(postgres.admin_url, archive)
    with pytest.raises(CommandFailed, match="exists"):
        db.restore(postgres.admin_url, archive, "grid")


def test_cloud_restore_is_a_point_in_time_clone() -> None:
    command = db.clone_command("acme-grid-prod", "grid-prod-db-instance-1", "grid-prod-verify", "2026-11-20T03:00:00Z")
    assert command == [
        "gcloud",
        "sql",
        "instances",
        "clone",
        "grid-prod-db-instance-1",
        "grid-prod-verify",
        "--project=acme-grid-prod",
        "--point-in-time=2026-11-20T03:00:00Z",
    ]
    with pytest.raises(UsageError, match="RFC 3339"):
        db.clone_command("p", "i", "t", "yesterday")


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """The logging setup as it was: the migrations job's entry point configures logging for its process."""
    import logging

    names = ("", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate, lg.disabled) for lg in map(logging.getLogger, names)]
    try:
        yield
    finally:
        for lg, handlers, level, propagate, disabled in saved:
            lg.handlers[:], lg.level, lg.propagate, lg.disabled = handlers, level, propagate, disabled


def test_migrations_job_entry_point(postgres, monkeypatch, capsys, logging_restored) -> None:
    """The command the Cloud Run migrations job runs: idempotent, exit 0, and 1 on an unreachable database. The
    successful run is the module's ``main`` in this process; the failing one ``python -m`` in a process of its own,
    as the job starts it (each process pays ~0.6 CPU s of imports)."""
    import os
    import subprocess
    import sys

    from app.common.migrations import main
    from tests.conftest import REPO_ROOT

    monkeypatch.setenv("DATABASE_URL", postgres.admin_url)
    assert main() == 0
    assert "migrations up to date" in capsys.readouterr().out
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    # Retried for STARTUP_CONNECT_SECONDS (30 s by default, the job's wait for its VPC egress) before giving up:
    # a short budget still retries, then fails the same way.
    env["STARTUP_CONNECT_SECONDS"] = "1"
    command = [sys.executable, "-m", "app.common.migrations"]
    bad = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert bad.returncode == 1 and "migrations failed" in bad.stdout and "nobody" not in bad.stdout
    assert "database not reachable yet" in bad.stdout  # retried within the budget before failing


def test_a_failed_restore_exits_1_not_the_usage_code(tmp_path: Path) -> None:
    """Used correctly but unable to restore (no local database yet): exit 1 and one line; 2 stays for usage."""
    from tests.grid.test_cli import grid

    archive = tmp_path / "backup.dump"
    archive.write_bytes(b"")
    failed = grid("db", "restore", "--from", str(archive), "--into", "restored", "--data-dir", str(tmp_path / "none"))
    assert failed.returncode == 1 and failed.stderr.count("\n") == 1 and "no database in" in failed.stderr
    misused = grid("db", "restore", "--into", "restored", "--data-dir", str(tmp_path))
    assert misused.returncode == 2 and "name what to restore" in misused.stderr
