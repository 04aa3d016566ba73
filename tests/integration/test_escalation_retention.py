"""A closed case is kept for its retention, then deleted with changelog tombstones (the case
and, once it has no case left, its customer); a reopen within the retention still works."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from casegold_contracts import CommandRejected, Event, parse
from casegold_contracts.builders import make_case_opened, make_event
from casegold_platform.settings import KafkaSettings
from tests.support.escalation import (
    EscalationProcess,
    EscalationReader,
    WorkerTopics,
    logs_on_failure,
    publish,
)

pytestmark = pytest.mark.integration

RETENTION_SECONDS = 3.0


def lifecycle(case_id: UUID, at: datetime, phone: str, close: bool = True) -> list[Event]:
    """Opened, acknowledged and resolved at once (no step falls due), then closed."""
    events: list[Event] = [
        make_case_opened(case_id=case_id, at=at, recorded_at=at, customer={"phone": phone}),
        make_event("case_acknowledged", case_id=case_id, at=at),
        make_event("case_resolved", case_id=case_id, at=at),
    ]
    return [*events, make_event("case_closed", case_id=case_id, at=at)] if close else events


async def read_topic(
    kafka: KafkaSettings,
    topic: str,
    done: Callable[[list[tuple[bytes, bytes | None]]], bool],
    timeout: float,
) -> list[tuple[bytes, bytes | None]]:
    """Every (key, value) of a topic from its start, until done(records) or fail at timeout."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(kafka.partitions)])
        await consumer.seek_to_beginning()
        records: list[tuple[bytes, bytes | None]] = []
        deadline = time.monotonic() + timeout
        while not done(records):
            assert time.monotonic() < deadline, f"{topic}: condition not met; {len(records)} read"
            batch = await consumer.getmany(timeout_ms=300)
            records += [(m.key or b"", m.value) for ms in batch.values() for m in ms]
        return records
    finally:
        await consumer.stop()


def tombstoned(key: bytes) -> Callable[[list[tuple[bytes, bytes | None]]], bool]:
    return lambda records: any(k == key and v is None for k, v in records)


async def test_closed_cases_are_forgotten_after_their_retention_and_reopens_before_it_work(
    tmp_path: Path, unique: str, kafka_settings: KafkaSettings
) -> None:
    app_id = f"test-escalation-{unique}"
    worker = EscalationProcess(app_id, "w1", tmp_path, topics=WorkerTopics.own(app_id))
    await worker.topics.create(kafka_settings)
    worker.start({"CASEGOLD_ESCALATION_CLOSED_RETENTION_DAYS": str(RETENTION_SECONDS / 86400)})
    try:
        worker.wait_ready()
        expiring, kept, still_open = uuid4(), uuid4(), uuid4()
        phone = f"+86137{random.randrange(10**8):08d}"
        now = datetime.now(UTC)
        opened = lifecycle(expiring, now, phone)
        customer = opened[0].payload.customer_key.encode()  # type: ignore[attr-defined]
        with logs_on_failure(worker):
            await publish(
                kafka_settings,
                [
                    *opened,
                    *lifecycle(kept, now, f"+86136{random.randrange(10**8):08d}"),
                    *lifecycle(still_open, now, f"+86135{random.randrange(10**8):08d}", False),
                ],
                worker.topics.case_events,
            )
            async with EscalationReader(kafka_settings, worker.topics.escalations) as reader:
                # Reopened within the retention: kept, with its reopened tier 1 at once.
                reopen = make_event("case_reopened", case_id=kept, at=datetime.now(UTC))
                await publish(kafka_settings, [reopen], worker.topics.case_events)
                await reader.read_until(
                    lambda seen: any(e.payload.milestone == "reopened" for e in seen),
                    timeout=30,
                    cases={kept},
                )
            cases_log = f"{app_id}-cases-changelog"
            records = await read_topic(
                kafka_settings, cases_log, tombstoned(str(expiring).encode()), timeout=60
            )
            await read_topic(
                kafka_settings, f"{app_id}-customer-cases-changelog", tombstoned(customer), 30
            )
            # A reopen after the retention finds no case: refused, nothing comes back.
            late = make_event("case_reopened", case_id=expiring, at=datetime.now(UTC))
            await publish(kafka_settings, [late], worker.topics.case_events)
            refusal = await read_topic(
                kafka_settings,
                worker.topics.case_events,
                lambda rs: any(_refuses(v, late.event_id) for _, v in rs),
                timeout=30,
            )
        assert any(_refuses(v, late.event_id) for _, v in refusal)
        tombstones = {k for k, v in records if v is None}
        assert str(kept).encode() not in tombstones and str(still_open).encode() not in tombstones
        metrics = worker.metrics()
        assert 'casegold_escalation_forgotten_total{table="case"} 1.0' in metrics
        assert 'casegold_escalation_forgotten_total{table="customer"} 1.0' in metrics
    finally:
        worker.stop()


def _refuses(value: bytes | None, event_id: UUID) -> bool:
    event = parse(value or b"")
    return isinstance(event, CommandRejected) and event.payload.rejected_event_id == event_id
