"""The PostgreSQL key store: shared windows commit only the rows whose events are durable."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import pytest

from casegold_intake import migrations
from casegold_intake.idempotency import PostgresKeyStore
from casegold_intake.ports import KeyRecord

pytestmark = pytest.mark.integration


def record(key: str, digest: bytes = b"d1") -> KeyRecord:
    return KeyRecord("client", key, digest, uuid4(), uuid4(), b"event-" + key.encode(), b"{}")


@pytest.fixture
async def store(pg_schema: str) -> AsyncIterator[PostgresKeyStore]:
    await migrations.apply(pg_schema)
    pool = await asyncpg.create_pool(pg_schema, min_size=1, max_size=6)
    assert pool is not None
    keys = PostgresKeyStore(pool, timeout=2.0, window=0.05)
    try:
        yield keys
    finally:
        await keys.close()
        await pool.close()


async def committed(store: PostgresKeyStore) -> list[str]:
    """The committed keys, once no window is open any more."""
    await store.close()
    rows = await store.pool.fetch("SELECT key FROM idempotency_keys ORDER BY key")
    return [row["key"] for row in rows]


async def test_a_failed_member_leaves_no_row_while_its_window_mates_commit(
    store: PostgresKeyStore,
) -> None:
    class KafkaDown(Exception):
        pass

    async def member(key: str, fail: bool) -> None:
        async with store.hold(record(key)) as held:
            assert held.claim.fresh
            await asyncio.sleep(0.01)  # "publishing"
            if fail:
                raise KafkaDown
            await held.mark_published()

    results = await asyncio.gather(
        member("a", False), member("b", True), member("c", False), return_exceptions=True
    )
    assert [type(result).__name__ for result in results] == ["NoneType", "KafkaDown", "NoneType"]
    assert await committed(store) == ["a", "c"]


async def test_a_known_key_waits_for_the_window_then_sees_the_row(
    store: PostgresKeyStore,
) -> None:
    first = record("k")
    order: list[str] = []

    async def publisher() -> None:
        async with store.hold(first) as held:
            await asyncio.sleep(0.1)
            order.append("published")
            assert held.claim.fresh

    async def retry(digest: bytes) -> tuple[bool, bool, bool]:
        await asyncio.sleep(0.02)  # the first one is inside its window now
        async with store.hold(record("k", digest)) as held:
            order.append("claimed")
            return held.claim.fresh, held.claim.conflict, held.claim.published

    started = time.monotonic()
    _, same, other = await asyncio.gather(publisher(), retry(b"d1"), retry(b"d2"))
    assert order[0] == "published"
    assert same == (False, False, True) and other == (False, True, False)
    assert time.monotonic() - started < 2.0
    assert await committed(store) == ["k"]
