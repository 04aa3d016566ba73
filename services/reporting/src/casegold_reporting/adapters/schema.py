"""The reporting service's migrations, applied by the platform's runner."""

from __future__ import annotations

import inspect
from importlib import resources
from pathlib import Path

import asyncpg

from casegold_platform import postgres

SERVICE = "reporting"


def migrations_directory() -> Path:
    """The SQL files shipped in casegold_reporting/migrations."""
    return Path(str(resources.files("casegold_reporting") / "migrations"))


async def migrate(dsn: str) -> list[int]:
    """Apply the reporting migrations; returns the versions applied."""
    runner = postgres.migrate
    if "service" in inspect.signature(runner).parameters:
        applied: list[int] = await runner(dsn, service=SERVICE, directory=migrations_directory())  # type: ignore[call-arg]
        return applied
    return await _migrate_alone(dsn)


async def _migrate_alone(dsn: str) -> list[int]:
    # Until the platform's runner keeps one history per service: a history table of our own.
    migrations = postgres.load_migrations(migrations_directory())
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", postgres.MIGRATION_LOCK_KEY)
        try:
            await connection.execute(
                """CREATE TABLE IF NOT EXISTS reporting_schema_migrations (
                       version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            rows = await connection.fetch(
                "SELECT version, checksum FROM reporting_schema_migrations"
            )
            applied = {row["version"]: row["checksum"] for row in rows}
            done = []
            for migration in migrations:
                if migration.version in applied:
                    if applied[migration.version] != migration.checksum:
                        raise postgres.MigrationError(
                            f"reporting migration {migration.version:04d} changed after it was "
                            "applied"
                        )
                    continue
                async with connection.transaction():
                    await connection.execute(migration.sql)
                    await connection.execute(
                        "INSERT INTO reporting_schema_migrations VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
                done.append(migration.version)
            return done
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", postgres.MIGRATION_LOCK_KEY)
    finally:
        await connection.close()
