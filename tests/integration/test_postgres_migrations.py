"""Migrations apply to the real PostgreSQL, re-apply as a no-op, and refuse inconsistent history."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from casegold_platform.postgres import (
    Migration,
    MigrationError,
    installed_migration_packages,
    migrate,
    migrate_installed,
    package_migrations,
)

pytestmark = pytest.mark.integration


async def _history(dsn: str) -> list[tuple[str | None, int, str]]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT service, version, name FROM schema_migrations ORDER BY service, version"
        )
    finally:
        await connection.close()
    return [(r["service"], r["version"], r["name"]) for r in rows]


async def test_installed_migrations_apply_once_then_are_a_no_op(pg_schema: str) -> None:
    packages = installed_migration_packages()
    assert {"intake", "notifier"} <= set(packages)
    expected = {
        service: [m.version for m in package_migrations(package)]
        for service, package in packages.items()
    }
    assert await migrate_installed(pg_schema) == expected
    assert await migrate_installed(pg_schema) == {service: [] for service in packages}
    connection = await asyncpg.connect(pg_schema)
    try:
        columns = await connection.fetch(
            """SELECT column_name FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = 'idempotency_keys'"""
        )
    finally:
        await connection.close()
    recorded = await _history(pg_schema)
    assert [(s, v) for s, v, _ in recorded] == [
        (service, version) for service in sorted(expected) for version in expected[service]
    ]
    assert {"client_id", "key", "body_sha256", "case_id"} <= {c["column_name"] for c in columns}


async def test_concurrent_runners_apply_each_migration_exactly_once(pg_schema: str) -> None:
    results = await asyncio.gather(*(migrate_installed(pg_schema) for _ in range(4)))
    applied = sorted(
        (service, version)
        for result in results
        for service, versions in result.items()
        for version in versions
    )
    assert applied == [(s, v) for s, v, _ in await _history(pg_schema)]


async def test_services_number_their_migrations_apart(pg_schema: str) -> None:
    one = [Migration(1, "a_table", "CREATE TABLE a (id int)")]
    other = [Migration(1, "b_table", "CREATE TABLE b (id int)")]
    assert await migrate(pg_schema, service="one", migrations=one) == [1]
    assert await migrate(pg_schema, service="other", migrations=other) == [1]
    assert await _history(pg_schema) == [("one", 1, "a_table"), ("other", 1, "b_table")]


async def test_the_shared_history_of_earlier_releases_is_adopted(pg_schema: str) -> None:
    """A database migrated when all files shared one sequence upgrades with nothing re-run."""
    intake = package_migrations("casegold_intake.migrations")
    notifier = package_migrations("casegold_notifier.migrations")
    # The old numbering: 0001, 0002 intake; 0003 the delivery log. Intake's 0003 (key claims)
    # came after the split, so the upgrade applies it.
    shared = [*intake[:2], *notifier]
    connection = await asyncpg.connect(pg_schema)
    try:
        await connection.execute(
            """CREATE TABLE schema_migrations (
                   version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        for number, migration in enumerate(shared, start=1):
            await connection.execute(migration.sql)
            await connection.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                number,
                migration.name,
                migration.checksum,
            )
    finally:
        await connection.close()

    applied = await migrate_installed(pg_schema)
    assert applied["intake"] == [3] and applied["notifier"] == []
    history = await _history(pg_schema)
    assert [(s, v, n) for s, v, n in history if s in ("intake", "notifier")] == [
        ("intake", 1, "idempotency_keys"),
        ("intake", 2, "idempotency_outcome"),
        ("intake", 3, "idempotency_claims"),
        ("notifier", 1, "notification_deliveries"),
    ]
    assert all(service is not None for service, _, _ in history)


async def test_an_edited_applied_migration_is_refused(pg_schema: str) -> None:
    original = [Migration(1, "first", "CREATE TABLE t (id int)")]
    assert await migrate(pg_schema, service="svc", migrations=original) == [1]
    edited = [Migration(1, "first", "CREATE TABLE t (id bigint)")]
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(pg_schema, service="svc", migrations=edited)


async def test_a_failing_migration_leaves_nothing_half_applied(pg_schema: str) -> None:
    broken = [
        Migration(1, "good", "CREATE TABLE a (id int)"),
        Migration(2, "bad", "CREATE TABLE b (id int); SELECT no_such_function()"),
    ]
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrate(pg_schema, service="svc", migrations=broken)
    connection = await asyncpg.connect(pg_schema)
    try:
        b_exists = await connection.fetchval("SELECT to_regclass('b') IS NOT NULL")
    finally:
        await connection.close()
    assert await _history(pg_schema) == [("svc", 1, "good")]
    assert b_exists is False


async def test_a_database_ahead_of_the_code_is_refused(pg_schema: str) -> None:
    two = [Migration(1, "one", "SELECT 1"), Migration(2, "two", "SELECT 2")]
    await migrate(pg_schema, service="svc", migrations=two)
    with pytest.raises(MigrationError, match="does not know"):
        await migrate(pg_schema, service="svc", migrations=two[:1])
