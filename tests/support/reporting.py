"""The reporting service in tests: its topics, a policy on business hours, the app in-process."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from asgi_lifespan import LifespanManager

from casegold_contracts import Event, dump, message_key
from casegold_contracts.builders import make_escalation_raised, make_event
from casegold_platform.kafka import TopicSpec, durable_producer, ensure_topics
from casegold_platform.settings import KafkaSettings, PolicySettings, PostgresSettings
from casegold_reporting.settings import ReportingSettings
from casegold_reporting.wiring import Config, build_app

T = TypeVar("T")
PARTITIONS = 3
AGENT = {"Authorization": "Bearer dev-agent-key"}
# Office hours Monday to Friday 09:00-17:00 UTC, no holidays: clocks a test can count by hand.
OFFICE_POLICY = """
version: 1
timezone: UTC
calendars:
  office:
    timezone: UTC
    hours:
      mon: ["09:00-17:00"]
      tue: ["09:00-17:00"]
      wed: ["09:00-17:00"]
      thu: ["09:00-17:00"]
      fri: ["09:00-17:00"]
ladders:
  standard:
    steps:
      - {step: warning, at: 75%, audience: owner}
      - {step: tier_1, at: breach, audience: team_lead}
      - {step: tier_2, at: breach + 25%, min: 2h, audience: department_manager}
      - {step: tier_3, at: breach + 100%, audience: director, when_sensitive: pr_legal}
policies:
  - name: office
    calendar: office
    ladder: standard
    targets:
      first_response: {P1: 1h, P2: 2h, P3: 4h, P4: 8h}
      solution_agreed: {P1: 8h, P2: 16h, P3: 16h, P4: 16h}
      resolution: {P1: 24h, P2: 40h, P3: 40h, P4: 40h}
      revisit: 16h
default_policy: office
immediate:
  sensitive: {step: tier_2, audience: [department_manager, pr_legal]}
  repeat_complainant: {step: tier_1, audience: team_lead}
  reopened: {step: tier_1, audience: team_lead}
  broken_promise: {step: tier_1, audience: team_lead}
special_periods: []
sensitive_keywords: [journalist, lawyer]
repeat_complainant: {cases: 2, within: 30d}
follow_up:
  revisit_delay: 48h
  contact_window: "09:00-20:00"
  callback_lead_time: 15m
  callback_lease: 10m
  unreachable_attempts: 3
  unreachable_retry_interval: 4h
default_priority: P3
"""


@dataclass(frozen=True, slots=True)
class Topics:
    """The two topics of one test."""

    case_events: str
    escalations: str


class FixedClock:
    """A clock the test sets."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def make_topics(kafka: KafkaSettings, unique: str) -> Topics:
    """Fresh topics for one test."""
    topics = Topics(f"test-reporting-cases-{unique}", f"test-reporting-escalations-{unique}")
    await ensure_topics(
        kafka.bootstrap,
        [TopicSpec(topics.case_events, PARTITIONS), TopicSpec(topics.escalations, PARTITIONS)],
    )
    return topics


def office_policy(directory: Path) -> Path:
    """The office-hours policy written to a file."""
    path = directory / "office.yaml"
    path.write_text(OFFICE_POLICY, encoding="utf-8")
    return path


def config(
    kafka: KafkaSettings, dsn: str, topics: Topics, policy: Path, **overrides: Any
) -> Config:
    """Settings of a reporting service on the test's topics and schema."""
    reporting = ReportingSettings(
        dev_keys=True,
        case_events_topic=topics.case_events,
        escalations_topic=topics.escalations,
        poll_timeout_ms=20,
        metrics_refresh_seconds=0.1,
        **overrides,
    )
    return Config(
        reporting, kafka, PostgresSettings(dsn=dsn, pool_max=4), PolicySettings(policy_file=policy)
    )


@asynccontextmanager
async def running(
    settings: Config, clock: Callable[[], datetime] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (projector included), and a client talking to it in-process."""
    app = build_app(settings, clock or (lambda: datetime.now(UTC)))
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
            yield client


async def publish(kafka: KafkaSettings, topic: str, records: Iterable[Event | bytes]) -> None:
    """Append events (or raw bytes, keyed by a fixed key) to a topic in order, acks=all."""
    producer = durable_producer(kafka)
    await producer.start()
    try:
        sends = []
        for record in records:
            if isinstance(record, bytes):
                sends.append(await producer.send(topic, key=b"poison", value=record))
            else:
                sends.append(
                    await producer.send(topic, key=message_key(record), value=dump(record))
                )
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def end_offsets(kafka: KafkaSettings, topics: Topics) -> dict[tuple[str, int], int]:
    """The end of every partition of both topics."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, number)
            for topic in (topics.case_events, topics.escalations)
            for number in range(PARTITIONS)
        ]
        ends = await consumer.end_offsets(partitions)
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def caught_up(dsn: str, ends: dict[tuple[str, int], int]) -> bool:
    """Whether the projector's stored offsets reached `ends`."""
    connection = await asyncpg.connect(dsn)
    try:
        try:
            rows = await connection.fetch(
                "SELECT topic, partition, next_offset FROM reporting_offsets"
            )
        except asyncpg.UndefinedTableError:
            return False
    finally:
        await connection.close()
    stored = {(row["topic"], row["partition"]): row["next_offset"] for row in rows}
    return all(stored.get(key, 0) >= end for key, end in ends.items() if end > 0)


async def eventually(
    probe: Callable[[], Awaitable[T | None]], timeout: float = 30.0, what: str = "condition"
) -> T:
    """Poll `probe` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


def recorded_history(cases: int, start: datetime, seed: int = 7) -> tuple[list[Event], list[Event]]:
    """A varied history of `cases` cases: lifecycles, refusals, pauses, redeliveries, steps.

    Returns (case events, escalation events) in topic order.
    """
    chance = random.Random(seed)
    events: list[Event] = []
    escalations: list[Event] = []
    for number in range(cases):
        case_id = uuid.UUID(int=chance.getrandbits(128) | (4 << 76) | (1 << 63))
        at = start + timedelta(minutes=7 * number)
        opened = make_event(
            "case_opened", case_id=case_id, at=at, priority=chance.choice(["P1", "P2", "P3"]),
            category=chance.choice(["product", "billing", "delivery"]),
            dealer_id=chance.choice([None, "dealer-1", "dealer-2"]),
        )  # fmt: skip
        story: list[Event] = [opened]
        steps: list[tuple[str, dict[str, Any]]] = [
            ("case_assigned", {"owner": f"agent-{number % 4}"}),
            ("case_acknowledged", {}),
            ("customer_awaited", {}),
            ("case_resumed", {}),
            ("customer_contacted", {}),
            ("callback_promised", {"promise_id": f"p{number}", "due_at": at + timedelta(hours=5)}),
            ("solution_agreed", {}),
            ("case_resolved", {}),
            ("case_closed", {}),
        ]
        for offset, (kind, fields) in enumerate(steps[: chance.randint(1, len(steps))], start=1):
            story.append(
                make_event(kind, case_id=case_id, at=at + timedelta(hours=offset), **fields)
            )
        if chance.random() < 0.3:  # a command the state machine refuses, and the worker's word
            refused = make_event("case_reopened", case_id=case_id, at=at + timedelta(hours=20))
            rejection = make_event(
                "command_rejected", case_id=case_id, at=at + timedelta(hours=20),
                rejected_event_id=refused.event_id, rejected_type="case_reopened",
                reason="invalid_transition",
            )  # fmt: skip
            story += [refused, rejection]
        if chance.random() < 0.2:  # a redelivery of the same bytes
            story.append(story[-1])
        events += story
        if chance.random() < 0.5:
            escalations.append(
                make_escalation_raised(
                    case_id=case_id,
                    milestone="first_response",
                    step="tier_1",
                    due_at=at + timedelta(hours=1),
                    fired_at=at + timedelta(hours=1, seconds=1),
                )
            )
    return events, escalations
