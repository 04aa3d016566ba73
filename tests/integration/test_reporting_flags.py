"""A case's escalated and breached flags, whichever topic names the case first."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from casegold_contracts import Event
from casegold_contracts.builders import make_escalation_raised, make_event
from casegold_platform.settings import KafkaSettings
from tests.support.reporting import (
    caught_up,
    config,
    end_offsets,
    eventually,
    make_topics,
    office_policy,
    publish,
    running,
)

pytestmark = pytest.mark.integration
T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


async def flags(dsn: str) -> dict[uuid.UUID, tuple[bool, bool]]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch("SELECT case_id, escalated, breached FROM reporting_cases")
    finally:
        await connection.close()
    return {row["case_id"]: (row["escalated"], row["breached"]) for row in rows}


async def test_flags_hold_whichever_topic_names_the_case_first(
    kafka_settings: KafkaSettings, pg_schema: str, unique: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_settings, unique)
    early, late, quiet = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    async def step(topic: str, events: Sequence[Event]) -> None:
        # Each step is projected before the next is published: they land in separate batches.
        await publish(kafka_settings, topic, events)
        ends = await end_offsets(kafka_settings, topics)
        await eventually(lambda: caught_up(pg_schema, ends), timeout=30, what="the projection")

    settings = config(kafka_settings, pg_schema, topics, office_policy(tmp_path))
    async with running(settings):
        # A breach notice read before its case exists: the row written later picks it up.
        await step(topics.escalations, [make_escalation_raised(case_id=early, due_at=T0)])
        opened = [make_event("case_opened", case_id=c, at=T0) for c in (early, late, quiet)]
        await step(topics.case_events, opened)
        assert await flags(pg_schema) == {
            early: (True, True),
            late: (False, False),
            quiet: (False, False),
        }
        # A warning notice for a stored case: escalated, not breached.
        warning = make_escalation_raised(case_id=late, due_at=T0, step="warning")
        await step(topics.escalations, [warning])
        # Later events upsert the stored rows; the flags set in SQL stay as they are.
        later = T0 + timedelta(minutes=5)
        assigned = [make_event("case_assigned", case_id=c, at=later) for c in (early, late, quiet)]
        await step(topics.case_events, assigned)
        assert await flags(pg_schema) == {
            early: (True, True),
            late: (True, False),
            quiet: (False, False),
        }
