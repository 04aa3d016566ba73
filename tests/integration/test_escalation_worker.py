"""The escalation worker, as a real process on the real broker, with second-scale targets.

deploy/policy/fast.yaml: P1 first response 4 s (warning 3 s, tier 1 4 s, tier 2 6 s, tier 3
8 s); P2 first response 8 s (warning 6 s, tier 1 8 s, tier 2 10 s, tier 3 16 s); 24x7.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from prometheus_client.parser import text_string_to_metric_families

from casegold_contracts import EscalationRaised, Event, escalation_id
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

STEPS = ("warning", "tier_1", "tier_2", "tier_3")
# Seconds from opening to each first-response step, per priority, on the fast policy.
LADDER = {"P1": (3, 4, 6, 8), "P2": (6, 8, 10, 16)}
# A step is "on time" when it is sent within this many seconds of its due instant.
ON_TIME = 1.5


@pytest.fixture
async def worker(
    tmp_path: Path, unique: str, kafka_settings: KafkaSettings
) -> AsyncIterator[EscalationProcess]:
    app_id = f"test-escalation-{unique}"
    process = EscalationProcess(app_id, "w1", tmp_path, topics=WorkerTopics.own(app_id))
    await process.topics.create(kafka_settings)
    process.start({"CASEGOLD_ESCALATION_LAG_INTERVAL": "0.5"})
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def now() -> datetime:
    return datetime.now(UTC)


def opened(case_id: UUID, at: datetime, priority: str = "P3", phone: str | None = None) -> Event:
    """A case_opened of its own customer (a random phone) unless a phone is given."""
    phone = phone or f"+86139{random.randrange(10**8):08d}"
    return make_case_opened(
        case_id=case_id, at=at, recorded_at=at, priority=priority, customer={"phone": phone}
    )


def first_response(events: list[EscalationRaised], case_id: UUID) -> list[EscalationRaised]:
    return [e for e in events if e.case_id == case_id and e.payload.milestone == "first_response"]


def expected_ids(cases: dict[UUID, str]) -> set[UUID]:
    return {escalation_id(case, "first_response", 1, step) for case in cases for step in STEPS}


def all_first_response_steps(cases: dict[UUID, str]) -> Callable[[list[EscalationRaised]], bool]:
    wanted = expected_ids(cases)

    def done(events: list[EscalationRaised]) -> bool:
        return wanted <= {e.payload.escalation_id for e in events}

    return done


async def test_ladder_fires_in_order_once_each_and_on_time_pause_shifts_meeting_cancels(
    worker: EscalationProcess, kafka_settings: KafkaSettings
) -> None:
    ladder, paused, met, first_call, second_call = (uuid4() for _ in range(5))
    t0 = now()
    same_phone = f"+86138{random.randrange(10**8):08d}"
    events: list[Event | tuple[bytes, bytes]] = [
        # Poison on the ladder case's own partition: counted and skipped, the partition goes on.
        (str(ladder).encode(), b"{not json"),
        (str(ladder).encode(), b'{"type": "case_teleported", "schema_version": 1}'),
        opened(ladder, t0, "P1"),
        opened(first_call, t0, phone=same_phone),
        # Opened after the first call (cases opened at one instant are ordered by id).
        opened(second_call, t0 + timedelta(milliseconds=1), phone=same_phone),
        opened(paused, t0, "P1"),
        make_event("customer_awaited", case_id=paused, at=t0 + timedelta(seconds=1)),
        make_event("case_resumed", case_id=paused, at=t0 + timedelta(seconds=3)),
        opened(met, t0, "P1"),
        make_event("case_acknowledged", case_id=met, at=t0 + timedelta(seconds=1)),
    ]
    with logs_on_failure(worker):
        async with EscalationReader(kafka_settings, worker.topics.escalations) as reader:
            await publish(kafka_settings, events, worker.topics.case_events)
            everything = {ladder, paused, met, first_call, second_call}
            seen = await reader.read_until(
                all_first_response_steps({ladder: "P1", paused: "P1"}), timeout=40, cases=everything
            )
            # The acknowledged case's tier 3 would have been due at 8 s: read on past it.
            quiet_until = t0 + timedelta(seconds=9.5)
            seen = await reader.read_until(
                lambda _: now() >= quiet_until, timeout=20, cases=everything
            )

    for case_id, shift in ((ladder, 0), (paused, 2)):
        fired = first_response(seen, case_id)
        assert [e.payload.step for e in fired] == list(STEPS), "each step once, in order"
        for event, seconds in zip(fired, LADDER["P1"], strict=True):
            # A pause of 2 s moves every later step by exactly 2 s.
            assert event.payload.due_at == t0 + timedelta(seconds=seconds + shift)
            lag = (event.payload.fired_at - event.payload.due_at).total_seconds()
            assert 0 <= lag <= ON_TIME, f"{event.payload.step} sent {lag:.3f} s after due"
    assert first_response(seen, met) == [], "meeting the milestone cancels its steps"
    # The second case of one customer within 30 days is a repeat complainant: tier 1 at once.
    repeats = [e for e in seen if e.payload.milestone == "repeat_complainant"]
    assert [(e.case_id, e.payload.step) for e in repeats] == [(second_call, "tier_1")]
    metrics = worker.metrics()
    assert 'casegold_escalation_undecodable_total{reason="malformed_json"} 1.0' in metrics
    assert 'casegold_escalation_undecodable_total{reason="unknown_type"} 1.0' in metrics
    # Every case event is processed: each assigned partition of the topic shows a lag of 0.
    lags = await poll(lambda: consumer_lag(worker.metrics(), worker.topics.case_events), 15)
    assert set(lags) == set(range(kafka_settings.partitions)) and set(lags.values()) == {0}, lags


def consumer_lag(text: str, topic: str) -> dict[int, float] | None:
    """casegold_consumer_lag by partition of one topic, once every partition reads 0."""
    found = {
        int(s.labels["partition"]): s.value
        for family in text_string_to_metric_families(text)
        if family.name == "casegold_consumer_lag"
        for s in family.samples
        if s.labels["topic"] == topic
    }
    return found if found and not any(found.values()) else None


async def poll(probe: Callable[[], dict[int, float] | None], timeout: float) -> dict[int, float]:
    deadline = time.monotonic() + timeout
    while (value := probe()) is None:
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)
    return value


async def test_kill_9_and_restart_fires_every_step_exactly_once(
    tmp_path: Path, unique: str, kafka_settings: KafkaSettings
) -> None:
    app_id = f"test-escalation-{unique}"
    worker = EscalationProcess(app_id, "w1", tmp_path, topics=WorkerTopics.own(app_id))
    await worker.topics.create(kafka_settings)
    worker.start()
    try:
        worker.wait_ready()
        t0 = now()
        cases = {uuid4(): "P1" if i % 2 else "P2" for i in range(30)}
        with logs_on_failure(worker):
            async with EscalationReader(kafka_settings, worker.topics.escalations) as reader:
                await publish(
                    kafka_settings,
                    [opened(c, t0, p) for c, p in cases.items()],
                    worker.topics.case_events,
                )
                # P1 warnings (3 s) and tier 1 (4 s) fire; then the worker dies mid-ladder.
                await reader.read_until(
                    lambda events: sum(e.payload.step == "tier_1" for e in events) >= 15,
                    timeout=30,
                    cases=set(cases),
                )
                worker.kill_hard()
                killed_at = now()
                worker.start()
                back_at = datetime.fromtimestamp(worker.wait_ready(), UTC)
                seen = await reader.read_until(
                    all_first_response_steps(cases), timeout=60, cases=set(cases)
                )
                # Give late duplicates, if any, a moment to show up before counting.
                until = now() + timedelta(seconds=4)
                seen = await reader.read_until(
                    lambda _: now() >= until, timeout=10, cases=set(cases)
                )
    finally:
        worker.stop()

    notices = Counter((e.payload.escalation_id, e.payload.audience) for e in seen)
    doubled = {key: n for key, n in notices.items() if n > 1}
    assert not doubled, f"notices sent more than once: {doubled}"
    assert {e.payload.escalation_id for e in seen if e.payload.milestone == "first_response"} == (
        expected_ids(cases)
    )
    for event in seen:
        due = event.payload.due_at
        if killed_at <= due <= back_at:
            # Due while the worker was down: sent right after it came back.
            delay = (event.payload.fired_at - back_at).total_seconds()
            assert delay <= 5, f"{event.payload.step} due in downtime sent {delay:.1f} s late"


async def test_a_second_worker_joining_and_leaving_keeps_every_timer(
    tmp_path: Path, unique: str, kafka_settings: KafkaSettings
) -> None:
    app_id = f"test-escalation-{unique}"
    topics = WorkerTopics.own(app_id)
    first = EscalationProcess(app_id, "w1", tmp_path, topics=topics)
    second = EscalationProcess(app_id, "w2", tmp_path, topics=topics)
    await topics.create(kafka_settings)
    first.start()
    try:
        first.wait_ready()
        t0 = now()
        cases = {uuid4(): "P2" for _ in range(24)}
        with logs_on_failure(first, second):
            async with EscalationReader(kafka_settings, topics.escalations) as reader:
                await publish(
                    kafka_settings, [opened(c, t0, p) for c, p in cases.items()], topics.case_events
                )
                second.start()
                second.wait_ready()
                await reader.read_until(
                    lambda events: sum(e.payload.step == "tier_1" for e in events) >= 1,
                    timeout=40,
                    cases=set(cases),
                )
                second.stop()
                seen = await reader.read_until(
                    all_first_response_steps(cases), timeout=90, cases=set(cases)
                )
                until = now() + timedelta(seconds=3)
                seen = await reader.read_until(
                    lambda _: now() >= until, timeout=10, cases=set(cases)
                )
    finally:
        second.stop()
        first.stop()
    notices = Counter((e.payload.escalation_id, e.payload.audience) for e in seen)
    assert {k: n for k, n in notices.items() if n > 1} == {}
    assert {e.payload.escalation_id for e in seen} >= expected_ids(cases)
