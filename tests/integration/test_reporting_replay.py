"""Replaying the topics gives identical tables: from scratch, and over the existing rows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from casegold_platform.settings import KafkaSettings
from tests.support.reporting import (
    caught_up,
    config,
    end_offsets,
    eventually,
    make_topics,
    office_policy,
    publish,
    recorded_history,
    running,
)

pytestmark = pytest.mark.integration
TABLES = {
    "reporting_cases": "case_id",
    "reporting_timeline": "case_id, event_id",
    "reporting_escalations": "escalation_id, repeat, audience",
    "reporting_case_counts": "priority, status",
    "reporting_offsets": "topic, partition",
    "reporting_policies": "version",
    "reporting_daily": "metric, day, key, sub",
    "reporting_agents": "owner",
}


@pytest.fixture
async def second_schema(pg_dsn: str) -> AsyncIterator[str]:
    schema = f"test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(pg_dsn)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        yield f"{pg_dsn}?search_path={schema}"
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


async def snapshot(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every projection table, in key order."""
    connection = await asyncpg.connect(dsn)
    try:
        return {
            table: [
                tuple(row)
                for row in await connection.fetch(f"SELECT * FROM {table} ORDER BY {key}")
            ]
            for table, key in TABLES.items()
        }
    finally:
        await connection.close()


async def test_replaying_a_recorded_topic_gives_identical_tables(
    kafka_settings: KafkaSettings, pg_schema: str, second_schema: str, unique: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_settings, unique)
    events, escalations = recorded_history(120, datetime(2025, 3, 3, 9, tzinfo=UTC))
    poison = [b"{not json", b'{"type": "from_the_future", "schema_version": 1}']
    await publish(kafka_settings, topics.case_events, [*events[:200], *poison, *events[200:]])
    await publish(kafka_settings, topics.escalations, escalations)
    ends = await end_offsets(kafka_settings, topics)
    policy = office_policy(tmp_path)

    async def project(dsn: str, shards: int = 1) -> None:
        async with AsyncExitStack() as stack:
            for shard in range(shards):
                settings = config(
                    kafka_settings, dsn, topics, policy,
                    projector_shards=shards, projector_shard=shard,
                )  # fmt: skip
                await stack.enter_async_context(running(settings))
            await eventually(lambda: caught_up(dsn, ends), timeout=60, what="the projection")

    await project(pg_schema)
    first = await snapshot(pg_schema)
    assert len(first["reporting_cases"]) == 120
    refused = [row for row in first["reporting_timeline"] if row[10] == "refused"]
    assert refused and all(row[13] == "worker" for row in refused if row[4] == "case_reopened")

    # Two projectors sharing the partitions build the same tables.
    await project(second_schema, shards=2)
    assert await snapshot(second_schema) == first

    # The same topics read again over the existing rows (offsets lost) change nothing.
    connection = await asyncpg.connect(pg_schema)
    try:
        await connection.execute("DELETE FROM reporting_offsets")
    finally:
        await connection.close()
    await project(pg_schema)
    assert await snapshot(pg_schema) == first
