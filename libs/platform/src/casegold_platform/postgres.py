"""PostgreSQL plumbing: readiness and versioned SQL migrations applied at start-up."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import asyncpg

MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any constant works; it only has to be the same for every runner of this database.
MIGRATION_LOCK_KEY = 0x43415345474F4C44  # "CASEGOLD"


class DatabaseUnavailable(Exception):
    """PostgreSQL did not accept a connection before the deadline."""


class MigrationError(Exception):
    """The migration files or the recorded history are inconsistent."""


@dataclass(frozen=True)
class Migration:
    """One versioned SQL file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def bundled_migrations() -> list[Migration]:
    """The migrations shipped in casegold_platform/migrations, in version order."""
    folder = resources.files("casegold_platform") / "migrations"
    return load_migrations(Path(str(folder)))


def load_migrations(folder: Path) -> list[Migration]:
    """Read NNNN_name.sql files; reject gaps, duplicates and stray names."""
    migrations = []
    for path in sorted(folder.iterdir()):
        if path.suffix != ".sql":
            continue
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_lowercase_name.sql")
        migrations.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"{folder}: expected migration {expected:04d}, found {migration.version:04d}"
            )
    return migrations


async def wait_for_postgres(dsn: str, timeout: float) -> str:
    """Return the server version once PostgreSQL accepts a connection at dsn."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            connection = await asyncpg.connect(dsn, timeout=min(5.0, deadline - time.monotonic()))
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            last_error = exc
            await asyncio.sleep(0.25)
            continue
        try:
            version: str = await connection.fetchval("SHOW server_version")
            return version
        finally:
            await connection.close()
    raise DatabaseUnavailable(f"PostgreSQL did not answer at {redact(dsn)}: {last_error}")


async def migrate(dsn: str, migrations: list[Migration] | None = None) -> list[int]:
    """Apply pending migrations, each in its own transaction; returns the versions applied.

    An advisory lock serialises concurrent runners (several services start at once), and a
    changed file that was already applied is refused rather than silently ignored.
    """
    migrations = bundled_migrations() if migrations is None else migrations
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            await connection.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version integer PRIMARY KEY,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            rows = await connection.fetch("SELECT version, name, checksum FROM schema_migrations")
            applied = {row["version"]: row for row in rows}
            done = []
            for migration in migrations:
                row = applied.get(migration.version)
                if row is not None:
                    if row["checksum"] != migration.checksum:
                        raise MigrationError(
                            f"migration {migration.version:04d}_{migration.name} changed after it "
                            "was applied; add a new migration instead of editing an applied one"
                        )
                    continue
                async with connection.transaction():
                    await connection.execute(migration.sql)
                    await connection.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1,$2,$3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
                done.append(migration.version)
            unknown = sorted(set(applied) - {m.version for m in migrations})
            if unknown:
                raise MigrationError(
                    f"database has migrations {unknown} this code does not know: is it older "
                    "than the schema?"
                )
            return done
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    finally:
        await connection.close()


def redact(dsn: str) -> str:
    """The DSN with its password hidden, for logs and errors."""
    return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", dsn)
