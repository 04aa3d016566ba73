"""/metrics stays fast and bounded with 100,000 projected cases; the counts are right."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from casegold_contracts import dump
from casegold_contracts.builders import make_event
from casegold_platform.settings import KafkaSettings
from casegold_reporting.adapters import postgres, schema
from casegold_reporting.projection import Record, decode, fold
from casegold_sla import load_policy
from tests.support.reporting import config, eventually, make_topics, office_policy, running

pytestmark = pytest.mark.integration
CASES = 100_000
BATCH = 5_000


async def project_directly(dsn: str, policy: Path, topic: str) -> None:
    """Fold and write CASE_OPENED (a third then acknowledged) without a broker, batch by batch."""
    policies = load_policy(policy)
    start = datetime(2025, 3, 3, 9, tzinfo=UTC)
    connection = await asyncpg.connect(dsn)
    try:
        await postgres.prepare(connection)
        offset = 0
        for first in range(0, CASES, BATCH):
            records = []
            for number in range(first, first + BATCH):
                case_id = uuid.UUID(int=number + 1)
                at = start + timedelta(seconds=number)
                priority = ("P1", "P2", "P3", "P4")[number % 4]
                opened = make_event("case_opened", case_id=case_id, at=at, priority=priority)
                records.append(Record(topic, 0, offset, dump(opened)))
                offset += 1
                if number % 3 == 0:
                    acknowledged = make_event("case_acknowledged", case_id=case_id, at=at)
                    records.append(Record(topic, 0, offset, dump(acknowledged)))
                    offset += 1
            await postgres.write(connection, fold(decode(records), {}, policies))
    finally:
        await connection.close()


async def test_metrics_with_100000_cases_under_100_ms_and_bounded(
    kafka_settings: KafkaSettings, pg_schema: str, unique: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_settings, unique)
    policy = office_policy(tmp_path)
    await schema.migrate(pg_schema)
    await project_directly(pg_schema, policy, topics.case_events)
    settings = config(kafka_settings, pg_schema, topics, policy, project=False)
    async with running(settings) as client:

        async def counted() -> str | None:
            text = (await client.get("/metrics")).text
            line = 'casegold_open_cases{priority="P1",status="open"} '
            return text if line in text and line + "0.0" not in text else None

        text = await eventually(counted, what="the open-case counts")
        timings = []
        for _ in range(20):
            started = time.perf_counter()
            reply = await client.get("/metrics")
            timings.append(time.perf_counter() - started)
            assert reply.status_code == 200
        assert max(timings) < 0.1, timings
    series = [line for line in text.splitlines() if line.startswith("casegold_open_cases{")]
    assert len(series) == 4 * 7  # priorities × statuses other than closed, whatever the cases
    values = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in series}
    # Counted independently: a quarter of the cases per priority, every third acknowledged.
    for index, priority in enumerate(("P1", "P2", "P3", "P4")):
        numbers = range(index, CASES, 4)
        acknowledged = sum(1 for n in numbers if n % 3 == 0)
        key = f'casegold_open_cases{{priority="{priority}",status="%s"}}'
        assert values[key % "acknowledged"] == acknowledged
        assert values[key % "open"] == len(numbers) - acknowledged
    assert "case_id" not in text and "+86" not in text
