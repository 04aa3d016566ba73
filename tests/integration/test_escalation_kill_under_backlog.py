"""A worker killed (-9) halfway through a backlog reads the rest of it after its restart, with
new events still arriving.

The kill leaves tens of thousands of records uncommitted and, with the group's session still
open, the restarted worker's first assignment comes late; every record of the backlog must still
be read and committed once the new worker holds the partitions. Restarted on an empty disk, the
worker first recovers its tables from their changelogs and fetches while Faust seeks its
partitions back to their committed offsets: a partition whose records were all handled must
still be committed to its end (decision 0145).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from bench.escalation_harness import group_lag, partition_lags
from casegold_contracts import Event, dump, message_key
from casegold_contracts.builders import DEFAULT_TIME, make_case_opened, make_event
from casegold_platform.kafka import durable_producer
from casegold_platform.settings import KafkaSettings
from tests.support.escalation import EscalationProcess, WorkerTopics, logs_on_failure

pytestmark = pytest.mark.integration

CASES = 200
NOTES = 60_000


async def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.5)


async def flow(kafka: KafkaSettings, topic: str, cases: list[UUID]) -> None:
    """Notes at about 3,000/s until cancelled (new records keep coming during the restart)."""
    producer = durable_producer(kafka)
    await producer.start()
    try:
        n = 0
        while True:
            for _ in range(300):
                e = make_event("note_added", case_id=cases[n % len(cases)])
                await producer.send(topic, key=message_key(e), value=dump(e))
                n += 1
            await asyncio.sleep(0.1)
    finally:
        await producer.stop()


@pytest.mark.parametrize("disk", ["kept", "empty"])
async def test_a_worker_killed_in_a_backlog_reads_all_of_it_after_the_restart(
    tmp_path: Path, unique: str, kafka_settings: KafkaSettings, disk: str
) -> None:
    app_id = f"test-escalation-{unique}"
    topics = WorkerTopics.own(app_id)
    await topics.create(kafka_settings)
    cases = [uuid4() for _ in range(CASES)]
    # Opened at a past instant: their steps are due at once, so ticks and notices flow too.
    events: list[Event] = [
        make_case_opened(case_id=c, at=DEFAULT_TIME, priority="P4") for c in cases
    ]
    events += [make_event("note_added", case_id=cases[n % CASES]) for n in range(NOTES)]
    producer = durable_producer(kafka_settings)
    await producer.start()
    try:
        sends = [
            await producer.send(topics.case_events, key=message_key(e), value=dump(e))
            for e in events
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    total = len(events)

    async def lag() -> int:
        return await group_lag(kafka_settings, app_id, topics.case_events)

    worker = EscalationProcess(app_id, "w1", tmp_path, topics=topics)
    worker.start()
    try:
        with logs_on_failure(worker):
            worker.wait_ready()

            async def partly_read() -> bool:
                return await lag() < total - 5_000

            await wait_for(partly_read, 120, "the worker never committed part of the backlog")
            flowing = asyncio.ensure_future(flow(kafka_settings, topics.case_events, cases))
            await asyncio.sleep(3)  # not a wait for a condition: seconds of load before the kill
            worker.kill_hard()
            left = await lag()
            assert left > 0, "the backlog was read before the kill: nothing left to test"
            if disk == "empty":  # a new machine: the tables come back from their changelogs
                shutil.rmtree(tmp_path / worker.worker_name)
            worker.start()
            await asyncio.get_running_loop().run_in_executor(None, worker.wait_ready)
            await asyncio.sleep(15)  # seconds of load while the restarted worker catches up
            flowing.cancel()
            await asyncio.gather(flowing, return_exceptions=True)

            async def all_read() -> bool:
                return await lag() == 0

            try:
                await wait_for(all_read, 180, "records never committed")
            except AssertionError:
                behind = await partition_lags(kafka_settings, app_id, topics.case_events)
                # The worker's own view: what its agent has not finished (processed, not
                # committed, when these are 0 and the group's are not).
                unfinished = [
                    line
                    for line in worker.metrics().splitlines()
                    if line.startswith("casegold_consumer_lag{")
                    and topics.case_events in line
                    and not line.endswith(" 0.0")
                ]
                raise AssertionError(
                    f"of {left} records left at the kill, these partitions never committed "
                    f"theirs: { {p: n for p, n in behind.items() if n} }; "
                    f"not finished by the worker: {unfinished or 'none'}"
                ) from None
    finally:
        worker.stop()
