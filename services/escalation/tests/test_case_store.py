"""The cases table's changelog sends (adapters/case_store.py) against a producer that queues
batches the way aiokafka's does: a partition's next batch only once its previous one has gone
out in a request, one request in flight to the broker at a time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from casegold_escalation.adapters.case_store import TableCaseStore

RECORDS_PER_BATCH = 2


@dataclass
class Builder:
    records: list[tuple[bytes, bytes | None]] = field(default_factory=list)

    def append(self, *, timestamp: None, key: bytes, value: bytes | None) -> object | None:
        if len(self.records) >= RECORDS_PER_BATCH:
            return None  # full, as aiokafka's builder says
        self.records.append((key, value))
        return object()


@dataclass
class Producer:
    """Queues at most one batch per partition; each request takes every queued batch (one per
    partition), and the next request goes once the broker has answered the previous one."""

    queued: dict[int, tuple[Builder, asyncio.Future[Any]]] = field(default_factory=dict)
    drained: dict[int, asyncio.Event] = field(default_factory=dict)
    log: dict[int, list[tuple[bytes, bytes | None]]] = field(default_factory=dict)
    requests: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def create_batch(self) -> Builder:
        return Builder()

    async def send_batch(self, builder: Builder, topic: str, *, partition: int) -> Any:
        while partition in self.queued:  # aiokafka's accumulator: wait for the drain
            await self.drained.setdefault(partition, asyncio.Event()).wait()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.queued[partition] = (builder, future)
        self.ready.set()
        return future

    async def run(self) -> None:
        """The sender: one request at a time, each a broker round trip."""
        while True:
            await self.ready.wait()
            self.ready.clear()
            taken, self.queued = self.queued, {}
            for partition in taken:
                self.drained.pop(partition, asyncio.Event()).set()
            self.requests += 1
            for _ in range(3):  # the round trip
                await asyncio.sleep(0)
            for partition, (builder, future) in taken.items():
                log = self.log.setdefault(partition, [])
                future.set_result(SimpleNamespace(offset=len(log)))
                log.extend(builder.records)


def store_with(producer: Producer) -> TableCaseStore:
    app = SimpleNamespace(producer=SimpleNamespace(_ensure_producer=lambda: producer))
    table = SimpleNamespace(changelog_topic_name="cases-changelog")
    return TableCaseStore(app, table)


async def test_a_flush_takes_a_round_trip_per_batch_of_its_largest_partition() -> None:
    producer = Producer()
    sender = asyncio.ensure_future(producer.run())
    # 12 partitions of 8 writes: 4 batches each.
    batch = {p: {f"case-{p}-{i}".encode(): f"v{i}".encode() for i in range(8)} for p in range(12)}
    try:
        last = await asyncio.wait_for(store_with(producer).send(batch), 5)
    finally:
        sender.cancel()
    # Sent partition after partition, the same flush took 37 requests here.
    assert producer.requests == 4
    # Every write on its partition's changelog in order, and the offset each flush reaches.
    for p, writes in batch.items():
        assert producer.log[p] == list(writes.items())
    assert last == {p: 7 for p in batch}


async def test_the_offset_reached_counts_what_the_changelog_held_before() -> None:
    producer = Producer(log={0: [(b"old", b"1")] * 5})
    sender = asyncio.ensure_future(producer.run())
    try:
        last = await asyncio.wait_for(
            store_with(producer).send({0: {b"a": b"1", b"b": None, b"c": b"3"}, 1: {b"d": b"4"}}),
            5,
        )
    finally:
        sender.cancel()
    assert last == {0: 7, 1: 0}
    assert producer.log[0][5:] == [(b"a", b"1"), (b"b", None), (b"c", b"3")]
