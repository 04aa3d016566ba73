"""PostgreSQL plumbing: readiness and versioned SQL migrations applied at start-up."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path

import asyncpg

from casegold_platform.settings import redact

__all__ = [
    "DatabaseUnavailable",
    "Migration",
    "MigrationError",
    "installed_migration_packages",
    "load_migrations",
    "migrate",
    "migrate_installed",
    "package_migrations",
    "redact",
    "wait_for_postgres",
]

MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any constant works; it only has to be the same for every runner of this database.
MIGRATION_LOCK_KEY = 0x43415345474F4C44  # "CASEGOLD"
MIGRATIONS_ENTRY_POINTS = "casegold.migrations"


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


def package_migrations(package: str) -> list[Migration]:
    """The NNNN_name.sql files shipped inside an importable package, in version order."""
    return load_migrations(Path(str(resources.files(package))))


def installed_migration_packages() -> dict[str, str]:
    """Service name → package of its migrations, from the `casegold.migrations` entry points.

    Each service declares its own in its pyproject.toml, so the platform knows no service.
    """
    found = {point.name: point.value for point in entry_points(group=MIGRATIONS_ENTRY_POINTS)}
    return dict(sorted(found.items()))


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


async def migrate_installed(dsn: str) -> dict[str, list[int]]:
    """Apply every installed service's pending migrations; service → versions applied."""
    return {
        service: await migrate(dsn, service=service, migrations=package_migrations(package))
        for service, package in installed_migration_packages().items()
    }


async def migrate(dsn: str, *, service: str, migrations: list[Migration]) -> list[int]:
    """Apply a service's pending migrations, each in its own transaction; the versions applied.

    Each service owns its tables and numbers its migrations from 1. An advisory lock
    serialises concurrent runners (several services start at once), and a changed file that
    was already applied is refused rather than silently ignored.
    """
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            await _ensure_history_table(connection)
            await _adopt_shared_history(connection, service, migrations)
            rows = await connection.fetch(
                "SELECT version, name, checksum FROM schema_migrations WHERE service = $1",
                service,
            )
            applied = {row["version"]: row for row in rows}
            done = []
            for migration in migrations:
                row = applied.get(migration.version)
                if row is not None:
                    if row["checksum"] != migration.checksum:
                        raise MigrationError(
                            f"{service} migration {migration.version:04d}_{migration.name} "
                            "changed after it was applied; add a new migration instead of "
                            "editing an applied one"
                        )
                    continue
                async with connection.transaction():
                    await connection.execute(migration.sql)
                    await connection.execute(
                        "INSERT INTO schema_migrations (service, version, name, checksum) "
                        "VALUES ($1, $2, $3, $4)",
                        service,
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
                done.append(migration.version)
            unknown = sorted(set(applied) - {m.version for m in migrations})
            if unknown:
                raise MigrationError(
                    f"database has {service} migrations {unknown} this code does not know: "
                    "is it older than the schema?"
                )
            return done
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    finally:
        await connection.close()


async def _ensure_history_table(connection: asyncpg.Connection) -> None:
    """Create the history table, or upgrade the one shared history to per-service history."""
    await connection.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               service text NOT NULL,
               version integer NOT NULL,
               name text NOT NULL,
               checksum text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now(),
               PRIMARY KEY (service, version))"""
    )
    has_service = await connection.fetchval(
        """SELECT count(*) > 0 FROM information_schema.columns
           WHERE table_schema = current_schema() AND table_name = 'schema_migrations'
             AND column_name = 'service'"""
    )
    if has_service:
        return
    # A database migrated when every migration was numbered in one shared sequence: its rows
    # keep a null service until the service that now owns each file claims it.
    async with connection.transaction():
        await connection.execute(
            """ALTER TABLE schema_migrations ADD COLUMN service text;
               ALTER TABLE schema_migrations DROP CONSTRAINT schema_migrations_pkey;
               ALTER TABLE schema_migrations
                   ADD CONSTRAINT schema_migrations_service_version UNIQUE (service, version)"""
        )


async def _adopt_shared_history(
    connection: asyncpg.Connection, service: str, migrations: list[Migration]
) -> None:
    """Claim the shared-history rows of files this service now owns (same name and content)."""
    for migration in migrations:
        await connection.execute(
            """UPDATE schema_migrations SET service = $1, version = $2
               WHERE service IS NULL AND name = $3 AND checksum = $4""",
            service,
            migration.version,
            migration.name,
            migration.checksum,
        )
