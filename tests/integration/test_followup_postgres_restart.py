"""PostgreSQL restarted mid-run: the API answers 503, the consumer pauses, nothing is lost."""

from __future__ import annotations

import asyncio
from collections import Counter
from uuid import uuid4

import asyncpg
import pytest

from casegold_contracts import CaseClosed, Event
from casegold_platform.settings import KafkaSettings
from tests.support.followup import (
    REVISIT_KEY,
    ManualClock,
    eventually,
    read_topic,
    resolved_case,
    running_followup,
)
from tests.support.scratch_postgres import ScratchPostgres, scratch_postgres

__all__ = ["scratch_postgres"]

pytestmark = pytest.mark.integration


async def count(dsn: str, sql: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        value: int = await connection.fetchval(sql)
        return value
    finally:
        await connection.close()


async def test_postgres_restart_loses_and_doubles_nothing(
    kafka_settings: KafkaSettings, scratch_postgres: ScratchPostgres, unique: str
) -> None:
    clock = ManualClock()
    topic = f"followup-{unique}"
    before, during = [uuid4() for _ in range(300)], [uuid4() for _ in range(300)]
    dsn = scratch_postgres.dsn
    async with running_followup(
        kafka_settings, dsn, topic=topic, clock=clock, consumer_batch=50
    ) as app:
        clock.advance(hours=2)
        await app.publish([e for case in before for e in resolved_case(case)])
        scratch_postgres.stop("immediate")  # mid-run: the first batches may be half read
        await app.publish([e for case in during for e in resolved_case(case)])
        refused = await app.client.post(
            "/v1/callbacks/lease", json={"agent_id": "a", "limit": 1}, headers=REVISIT_KEY
        )
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "2"
        ready = await app.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["postgres"] is False
        consumer = app.parts.consumer
        assert consumer is not None

        async def paused() -> bool:
            return consumer.paused

        await eventually(paused, 30, "the consumer to pause")
        await asyncio.to_thread(scratch_postgres.start)

        async def all_queued() -> bool:
            return sum((await app.due()).values()) == len(before) + len(during)

        await eventually(all_queued, 90, "every callback in the queue")
        assert not consumer.paused
        leased = []
        while got := await app.lease("agent-a", limit=50):
            leased += got
        assert len(leased) == len(before) + len(during)
        for callback in leased:
            reply = await app.outcome(callback, outcome="satisfied", score=3)
            assert reply.status_code == 200, reply.text
        assert await count(dsn, "SELECT count(*) FROM followup_callbacks") == len(leased)
        assert await count(dsn, "SELECT count(*) FROM followup_outcomes") == len(leased)

    def complete(events: list[Event]) -> bool:
        return sum(isinstance(e, CaseClosed) for e in events) >= len(leased)

    events = await read_topic(kafka_settings, topic, complete, timeout=60)
    closed = Counter(e.case_id for e in events if isinstance(e, CaseClosed))
    assert closed == Counter(before + during)
