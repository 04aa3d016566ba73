"""Warm takeover: two workers, each keeping a standby copy of the other's tables; kill -9 of one,
and the other fires the killed worker's steps from its copy, reading (almost) no changelog.

deploy/policy/fast.yaml: P2 first response warning 6 s, tier 1 8 s, tier 2 10 s, tier 3 16 s.
The session timeout is set to its floor (6 s) so the group gives the partitions away sooner.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from casegold_contracts import EscalationRaised, escalation_id
from casegold_contracts.builders import make_case_opened
from casegold_platform.settings import KafkaSettings
from tests.support import faust_log
from tests.support.escalation import (
    EscalationProcess,
    EscalationReader,
    WorkerTopics,
    logs_on_failure,
    publish,
)

pytestmark = pytest.mark.integration

STEPS = ("warning", "tier_1", "tier_2", "tier_3")
WARM = {"CASEGOLD_ESCALATION_STANDBY_REPLICAS": "1", "CASEGOLD_ESCALATION_SESSION_TIMEOUT": "6"}


def partition_of(case_id: UUID, partitions: int) -> int:
    """The partition the platform's producers give a case's events (the default partitioner)."""
    every = list(range(partitions))
    return int(DefaultPartitioner()(str(case_id).encode("ascii"), every, every))


def held_partitions(worker: EscalationProcess) -> set[int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/readyz", timeout=5) as r:
        return set(json.loads(r.read())["partitions"])


async def split(workers: list[EscalationProcess], partitions: int) -> list[set[int]]:
    """Wait until both workers are ready and share the partitions between them."""
    deadline = time.monotonic() + 120
    while True:
        if all(w.ready() for w in workers):
            held = [await asyncio.to_thread(held_partitions, w) for w in workers]
            covered = set().union(*held) == set(range(partitions))
            if all(held) and covered and not held[0] & held[1]:
                return held
        assert time.monotonic() < deadline, "the two workers never shared the partitions"
        await asyncio.sleep(0.2)


async def changelog_written(
    kafka: KafkaSettings, topic: str, partitions: set[int], at_least: int
) -> int:
    """Wait until the changelog's partitions hold at least that many records; returns them."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        deadline = time.monotonic() + 60
        while (written := int(sum((await consumer.end_offsets(tps)).values()))) < at_least:
            assert time.monotonic() < deadline, f"{written} of {at_least} records in {topic}"
            await asyncio.sleep(0.2)
        return written
    finally:
        await consumer.stop()


async def test_survivor_fires_the_killed_workers_steps_from_its_standby_copy(
    tmp_path: Path, unique: str, kafka_settings: KafkaSettings
) -> None:
    app_id = f"test-takeover-{unique}"
    topics = WorkerTopics.own(app_id)
    workers = [EscalationProcess(app_id, name, tmp_path, topics=topics) for name in ("w1", "w2")]
    await topics.create(kafka_settings)
    for worker in workers:
        worker.start(WARM)
    try:
        with logs_on_failure(*workers):
            held = await split(workers, kafka_settings.partitions)
            (survivor, _), (victim, taken) = zip(workers, held, strict=True)
            t0 = datetime.now(UTC)
            cases = [uuid4() for _ in range(200)]
            theirs = {c for c in cases if partition_of(c, kafka_settings.partitions) in taken}
            async with EscalationReader(kafka_settings, topics.escalations) as reader:
                events = [
                    make_case_opened(case_id=c, at=t0, recorded_at=t0, priority="P2") for c in cases
                ]
                await publish(kafka_settings, events, topics.case_events)
                # The victim has stored its cases (its changelog holds a record of each).
                await changelog_written(
                    kafka_settings, f"{app_id}-cases-changelog", taken, len(theirs)
                )
                victim.kill_hard()
                killed = datetime.now(UTC)
                wanted = {escalation_id(c, "first_response", 1, s) for c in theirs for s in STEPS}
                await reader.read_until(
                    lambda seen: wanted <= {e.payload.escalation_id for e in seen},
                    timeout=60,
                    cases=theirs,
                )
                until = datetime.now(UTC) + timedelta(seconds=3)  # room for late duplicates
                seen = await reader.read_until(
                    lambda _: datetime.now(UTC) >= until, timeout=10, cases=theirs
                )
    finally:
        for worker in workers:
            worker.stop()

    notices = Counter((e.payload.escalation_id, e.payload.audience) for e in seen)
    assert {k: n for k, n in notices.items() if n > 1} == {}
    after = [e for e in seen if e.payload.fired_at >= killed]
    assert after, "no step of the killed worker's partitions fired after the kill"
    first = min(e.payload.fired_at for e in after)
    assert (first - killed).total_seconds() <= 30
    assert_taken_over_warm(survivor, killed.timestamp(), taken, seen)


def assert_taken_over_warm(
    survivor: EscalationProcess, killed: float, taken: set[int], seen: list[EscalationRaised]
) -> None:
    """The survivor's recovery of the taken partitions read next to nothing of the changelog."""
    lines = faust_log.read_log(survivor.log_path)
    recovery = next(
        (r for r in faust_log.recoveries(lines, killed) if taken <= r.partitions()), None
    )
    assert recovery is not None, "no recovery of the taken partitions in the survivor's log"
    # What a cold recovery reads: every record the changelogs hold for those partitions.
    cold = sum(high + 1 for (_, p), high in recovery.highwaters.items() if p in taken)
    assert cold >= len({e.case_id for e in seen}), recovery
    assert recovery.records_to_read(taken) <= 10, recovery
