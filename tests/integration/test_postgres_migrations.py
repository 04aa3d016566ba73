"""Migrations apply to the real PostgreSQL, re-apply as a no-op, and refuse inconsistent history."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from casegold_platform.postgres import (
    Migration,
    MigrationError,
    bundled_migrations,
    migrate,
)

pytestmark = pytest.mark.integration


async def test_bundled_migrations_apply_once_then_are_a_no_op(pg_schema: str) -> None:
    versions = [m.version for m in bundled_migrations()]
    assert await migrate(pg_schema) == versions
    assert await migrate(pg_schema) == []
    connection = await asyncpg.connect(pg_schema)
    try:
        recorded = await connection.fetch("SELECT version FROM schema_migrations ORDER BY version")
        columns = await connection.fetch(
            """SELECT column_name FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = 'idempotency_keys'"""
        )
    finally:
        await connection.close()
    assert [r["version"] for r in recorded] == versions
    assert {"client_id", "key", "body_sha256", "case_id"} <= {c["column_name"] for c in columns}


async def test_concurrent_runners_apply_each_migration_exactly_once(pg_schema: str) -> None:
    results = await asyncio.gather(*(migrate(pg_schema) for _ in range(4)))
    applied = [version for result in results for version in result]
    assert sorted(applied) == [m.version for m in bundled_migrations()]


async def test_an_edited_applied_migration_is_refused(pg_schema: str) -> None:
    original = [Migration(1, "first", "CREATE TABLE t (id int)")]
    assert await migrate(pg_schema, original) == [1]
    edited = [Migration(1, "first", "CREATE TABLE t (id bigint)")]
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(pg_schema, edited)


async def test_a_failing_migration_leaves_nothing_half_applied(pg_schema: str) -> None:
    broken = [
        Migration(1, "good", "CREATE TABLE a (id int)"),
        Migration(2, "bad", "CREATE TABLE b (id int); SELECT no_such_function()"),
    ]
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrate(pg_schema, broken)
    connection = await asyncpg.connect(pg_schema)
    try:
        versions = await connection.fetch("SELECT version FROM schema_migrations")
        b_exists = await connection.fetchval("SELECT to_regclass('b') IS NOT NULL")
    finally:
        await connection.close()
    assert [r["version"] for r in versions] == [1]
    assert b_exists is False


async def test_a_database_ahead_of_the_code_is_refused(pg_schema: str) -> None:
    two = [Migration(1, "one", "SELECT 1"), Migration(2, "two", "SELECT 2")]
    await migrate(pg_schema, two)
    with pytest.raises(MigrationError, match="does not know"):
        await migrate(pg_schema, two[:1])
