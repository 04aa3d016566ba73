"""The business metrics of SPEC §5 against a crafted case: first response and resolution in
business time, counted once each, from what the projection folds (office hours 09:00-17:00)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from casegold_contracts.builders import make_event
from casegold_platform.settings import KafkaSettings
from tests.support.reporting import config, eventually, make_topics, office_policy, publish, running

pytestmark = pytest.mark.integration
HOUR = 3600.0


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in March 2025 (the 3rd is a Monday)."""
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


def histogram(text: str, name: str) -> tuple[float, float]:
    """(count, sum) of a histogram in an exposition."""
    for family in text_string_to_metric_families(text):
        if family.name == name:
            values = {s.name: s.value for s in family.samples}
            return values[f"{name}_count"], values[f"{name}_sum"]
    raise AssertionError(f"{name} not exported")


async def test_first_response_and_resolution_seconds_are_business_time_observed_once(
    kafka_settings: KafkaSettings, pg_schema: str, unique: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_settings, unique)
    case_id, other = uuid.uuid4(), uuid.uuid4()
    acknowledged = make_event("case_acknowledged", case_id=case_id, at=utc(3, 16))
    events = [
        make_event("case_opened", case_id=case_id, at=utc(3, 15)),
        acknowledged,  # Monday 15:00-16:00: 1 h
        acknowledged,  # redelivered: observed once
        make_event("solution_agreed", case_id=case_id, at=utc(4, 10)),
        # Monday 15:00-17:00 and Tuesday 09:00-12:00 (the night does not count): 5 h.
        make_event("case_resolved", case_id=case_id, at=utc(4, 12)),
        make_event("case_opened", case_id=other, at=utc(3, 9)),  # open: observes nothing
    ]
    await publish(kafka_settings, topics.case_events, events)
    settings = config(kafka_settings, pg_schema, topics, office_policy(tmp_path))
    async with running(settings) as client:

        async def both_observed() -> str | None:
            text = (await client.get("/metrics")).text
            done = histogram(text, "casegold_resolution_seconds")[0] >= 1
            return text if done else None

        text = await eventually(both_observed, what="the resolution observed")
    assert histogram(text, "casegold_first_response_seconds") == (1, 1 * HOUR)
    assert histogram(text, "casegold_resolution_seconds") == (1, 5 * HOUR)
