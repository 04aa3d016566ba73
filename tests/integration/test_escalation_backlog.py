"""A timer never fires past records it has not read: acknowledgements accepted before a step's
due instant, behind a backlog, cancel the step even when the worker reads them late."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from casegold_contracts import EscalationRaised, Event, dump, message_key
from casegold_contracts.builders import make_case_opened, make_event
from casegold_platform.kafka import durable_producer
from casegold_platform.settings import KafkaSettings
from tests.support.escalation import (
    EscalationProcess,
    EscalationReader,
    WorkerTopics,
    logs_on_failure,
)

pytestmark = pytest.mark.integration

CASES = 12
NOTES_PER_CASE = 2500
STEPS = ("warning", "tier_1", "tier_2", "tier_3")
# P2 on the fast policy: warning 6 s, tier 1 8 s, tier 2 10 s, tier 3 16 s after opening.
LAST_STEP = timedelta(seconds=16)


async def publish_all(kafka: KafkaSettings, topic: str, events: list[Event]) -> None:
    """Append the events in order (one producer, pipelined), acknowledged by the broker, each
    stamped as accepted at its own time (never earlier than the record before it): what an
    intake that accepted them at those instants would have written, however long this
    publishing takes on a loaded host."""
    producer = durable_producer(kafka)
    await producer.start()
    try:
        sends, stamp = [], 0
        for e in events:
            stamp = max(stamp, int(e.occurred_at.timestamp() * 1000))
            sends.append(
                await producer.send(topic, key=message_key(e), value=dump(e), timestamp_ms=stamp)
            )
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def test_acknowledgements_behind_a_backlog_cancel_steps_that_fell_due_meanwhile(
    tmp_path: Path, unique: str, kafka_settings: KafkaSettings
) -> None:
    app_id = f"test-escalation-{unique}"
    topics = WorkerTopics.own(app_id)
    # The backlog is stamped as accepted at its events' own instants (publish_all).
    await topics.create(kafka_settings, create_times=True)
    # Building the events takes a moment: the cases open just after they are built.
    t0 = datetime.now(UTC) + timedelta(seconds=2)
    cases = [uuid4() for _ in range(CASES)]
    acknowledged = set(cases[::2])
    opened: list[Event] = [
        make_case_opened(
            case_id=c,
            at=t0,
            recorded_at=t0,
            priority="P2",
            customer={"phone": f"+86136{random.randrange(10**8):08d}"},
        )
        for c in cases
    ]
    backlog: list[Event] = [
        make_event(
            "note_added", case_id=random.choice(cases), at=t0 + timedelta(milliseconds=n % 900)
        )
        for n in range(CASES * NOTES_PER_CASE)
    ]
    acks: list[Event] = [
        make_event("case_acknowledged", case_id=c, at=t0 + timedelta(seconds=1))
        for c in acknowledged
    ]
    # The worker is down: openings, the backlog and the acknowledgements all reach the broker
    # well before the first warning (6 s) is due.
    built = datetime.now(UTC)
    await publish_all(kafka_settings, topics.case_events, [*opened, *backlog, *acks])
    accepted = datetime.now(UTC)
    # The acknowledgements are stamped as accepted at t0 + 1 s, before the first warning (6 s),
    # whenever publishing ends.
    print(f"built {built - t0} after t0, published {accepted - t0} after t0")
    worker = EscalationProcess(app_id, "w1", tmp_path, topics=topics)
    async with EscalationReader(kafka_settings, topics.escalations) as reader:
        # Every step falls due while nothing reads the partitions.
        # (Waiting for the wall clock itself here, not for a condition.)
        all_due = t0 + LAST_STEP + timedelta(seconds=1)
        await asyncio.sleep(max(0.0, (all_due - datetime.now(UTC)).total_seconds()))
        worker.start()
        try:
            with logs_on_failure(worker):
                wanted = {(c, s) for c in set(cases) - acknowledged for s in STEPS}

                def all_fired(events: list[EscalationRaised]) -> bool:
                    return wanted <= {(e.case_id, e.payload.step) for e in events}

                # Reading the 30,000-record backlog first takes minutes on a loaded host.
                await reader.read_until(all_fired, timeout=300, cases=set(cases))
                until = datetime.now(UTC) + timedelta(seconds=4)
                seen = await reader.read_until(
                    lambda _: datetime.now(UTC) >= until, timeout=10, cases=set(cases)
                )
        finally:
            worker.stop()
    first_response = [e for e in seen if e.payload.milestone == "first_response"]
    wrongly: set[UUID] = {e.case_id for e in first_response if e.case_id in acknowledged}
    assert wrongly == set(), f"{len(wrongly)} acknowledged cases escalated"
    counts = Counter((e.case_id, e.payload.step, e.payload.audience) for e in first_response)
    assert {k: n for k, n in counts.items() if n > 1} == {}
    assert {(c, s) for c, s, _ in counts} == wanted
