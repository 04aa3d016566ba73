"""The queue metrics of SPEC §5 against a known queue: callbacks due per kind, and how long the
oldest callback nobody holds has been due — kept by the code that changes the queue."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from prometheus_client.parser import text_string_to_metric_families

from casegold_contracts.builders import DEFAULT_TIME
from casegold_platform.settings import KafkaSettings
from tests.support.followup import (
    Followup,
    ManualClock,
    eventually,
    resolved_case,
    running_followup,
)

pytestmark = pytest.mark.integration


async def samples(app: Followup) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = (await app.client.get("/metrics")).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def due(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], kind: str) -> float:
    return found[("casegold_callbacks_due", (("kind", kind),))]


def oldest_age(found: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    return found[("casegold_callback_oldest_due_age_seconds", ())]


async def test_callbacks_due_and_the_oldest_due_age_follow_the_queue(
    kafka_settings: KafkaSettings, pg_schema: str, unique: str
) -> None:
    clock = ManualClock()
    first, second = uuid4(), uuid4()
    async with running_followup(
        kafka_settings, pg_schema, topic=f"followup-metrics-{unique}", clock=clock
    ) as app:
        # Resolved at +1 h and +1 h 30 min: revisits due 10 s after each (fast policy).
        await app.publish(resolved_case(first))
        await app.publish(resolved_case(second, at=DEFAULT_TIME + timedelta(minutes=30)))
        clock.now = DEFAULT_TIME + timedelta(hours=2)

        async def both_due() -> bool:
            found = await samples(app)
            return due(found, "revisit") == 2 and oldest_age(found) > 0

        await eventually(both_due, 60, "two revisits due")
        found = await samples(app)
        assert due(found, "promise") == 0
        oldest = DEFAULT_TIME + timedelta(hours=1, seconds=10)
        assert oldest_age(found) == pytest.approx((clock.now - oldest).total_seconds(), abs=1)

        # Leased: still in the queue, but held; the oldest free one is now the second.
        [callback] = await app.lease("agent-1")
        assert callback["case_id"] == str(first)
        later = oldest + timedelta(minutes=30)

        async def second_is_oldest() -> bool:
            age = oldest_age(await samples(app))
            return age == pytest.approx((clock.now - later).total_seconds(), abs=1)

        await eventually(second_is_oldest, 30, "the second revisit the oldest free one")
        assert due(await samples(app), "revisit") == 2

        reply = await app.outcome(callback, outcome="satisfied", score=5)
        assert reply.status_code == 200, reply.text
        [other] = await app.lease("agent-2")
        assert (await app.outcome(other, outcome="satisfied", score=4)).status_code == 200

        async def empty() -> bool:
            found = await samples(app)
            return due(found, "revisit") == 0 and oldest_age(found) == 0

        await eventually(empty, 30, "an empty queue")
