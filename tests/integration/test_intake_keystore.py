"""The PostgreSQL key store: committed claims, leases, take-overs, batches that never deadlock."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import pytest

from casegold_intake import migrations
from casegold_intake.claims import Action, next_action
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
    # Leases outlive any test step, even on a loaded machine; the expiry test shortens its own.
    keys = PostgresKeyStore(pool, timeout=2.0, lease=30.0)
    try:
        yield keys
    finally:
        await keys.close()
        await pool.close()


async def test_a_claim_is_committed_before_any_publish_and_seen_by_others(
    store: PostgresKeyStore,
) -> None:
    assert await store.insert(record("k"))
    row = await store.find("client", "k")
    assert row is not None and row.leased and not row.published and row.attempt == 1
    assert next_action(row, b"d1") is Action.WAIT
    assert next_action(row, b"d2") is Action.CONFLICT
    assert not await store.insert(record("k", b"d2"))


async def test_crossed_batches_of_the_same_keys_never_deadlock_and_claim_each_key_once(
    store: PostgresKeyStore,
) -> None:
    keys = [f"key-{i}" for i in range(40)]
    orders = [random.Random(seed).sample(keys, len(keys)) for seed in range(8)]
    results = await asyncio.gather(
        *(store.insert(record(key)) for order in orders for key in order)
    )
    assert sum(results) == len(keys)
    marks = await asyncio.gather(
        *(store.mark_published("client", key) for order in orders for key in order)
    )
    assert sum(marks) == len(keys), "one first mark (one 201) per key"
    rows = await store.pool.fetch("SELECT published_at FROM idempotency_keys")
    assert len(rows) == len(keys) and all(row["published_at"] for row in rows)


async def test_a_released_claim_is_taken_over_once_and_only_with_its_body(
    store: PostgresKeyStore,
) -> None:
    assert await store.insert(record("k"))
    assert await store.take_over("client", "k", b"d1") is None, "leased to its claimant"
    await store.release("client", "k", attempt=2)  # not the attempt holding it: no effect
    assert await store.take_over("client", "k", b"d1") is None
    await store.release("client", "k", attempt=1)
    assert await store.take_over("client", "k", b"d2") is None, "another body never takes it"
    takers = await asyncio.gather(*(store.take_over("client", "k", b"d1") for _ in range(5)))
    assert sorted(takers, key=lambda t: t or 0) == [None, None, None, None, 2]
    row = await store.find("client", "k")
    assert row is not None and row.event == b"event-k" and row.attempt == 2


async def test_a_claim_whose_claimant_vanished_is_free_once_its_lease_runs_out(
    store: PostgresKeyStore,
) -> None:
    store.lease = 0.3
    assert await store.insert(record("k"))
    deadline = asyncio.get_running_loop().time() + 5
    while (row := await store.find("client", "k")) is not None and row.leased:
        assert asyncio.get_running_loop().time() < deadline, "lease never ran out"
        await asyncio.sleep(0.05)
    assert next_action(row, b"d1") is Action.TAKE_OVER
    assert await store.take_over("client", "k", b"d1") == 2
    assert await store.mark_published("client", "k")
    assert not await store.mark_published("client", "k")


async def test_rows_written_before_claims_existed_replay_after_the_upgrade(pg_schema: str) -> None:
    from casegold_platform.postgres import migrate, package_migrations

    before_claims = package_migrations(migrations.__name__)[:2]
    await migrate(pg_schema, service=migrations.SERVICE, migrations=before_claims)
    connection = await asyncpg.connect(pg_schema)
    try:
        await connection.execute(
            """INSERT INTO idempotency_keys
               (client_id, key, body_sha256, case_id, event_id, published_at, event, reply)
               VALUES ('client', 'old', 'd1', gen_random_uuid(), gen_random_uuid(), now(),
                       'e', 'r')"""
        )
    finally:
        await connection.close()
    assert await migrations.apply(pg_schema) == [3]
    pool = await asyncpg.create_pool(pg_schema, min_size=1, max_size=2)
    assert pool is not None
    try:
        row = await PostgresKeyStore(pool, timeout=2.0).find("client", "old")
        assert row is not None and next_action(row, b"d1") is Action.REPLAY and row.reply == b"r"
    finally:
        await pool.close()
