"""What this worker's predecessors sent just before they stopped, to never send it twice.

A step is sent, acknowledged by the broker, and only then recorded in the case's state. A
worker killed between the acknowledgement and the record (or whose last table writes had not
reached the changelog when its partition moved) would send that step again. The escalations
topic is co-partitioned with the case events, so before a worker sends anything for a
partition it has just been given, it reads the last few minutes of that partition of
`complaints.escalations` and skips any notice whose (deterministic) event id is already there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from uuid import UUID

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic_core import from_json

from casegold_platform.settings import KafkaSettings


class RecentlySent:
    """Event ids found on the escalations topic, per partition, for a look-back window."""

    def __init__(self, kafka: KafkaSettings, topic: str, lookback_seconds: float) -> None:
        self.kafka = kafka
        self.topic = topic
        self.lookback_seconds = lookback_seconds
        self._ids: dict[int, set[UUID]] = {}
        self._lock = asyncio.Lock()

    def loaded(self, partition: int) -> bool:
        return partition in self._ids

    def contains(self, partition: int, event_id: UUID) -> bool:
        return event_id in self._ids.get(partition, ())

    def forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self._ids.pop(partition, None)

    async def load_many(self, partitions: Iterable[int]) -> None:
        """Read the recent escalations of every partition not loaded yet, with one consumer."""
        async with self._lock:
            wanted = sorted(set(partitions) - self._ids.keys())
            if wanted:
                self._ids.update(await self._read(wanted))

    async def _read(self, partitions: list[int]) -> dict[int, set[UUID]]:
        found: dict[int, set[UUID]] = {p: set() for p in partitions}
        tps = [TopicPartition(self.topic, p) for p in partitions]
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign(tps)
            since_ms = int((time.time() - self.lookback_seconds) * 1000)
            starts = await consumer.offsets_for_times({tp: since_ms for tp in tps})
            ends = await consumer.end_offsets(tps)
            pending: dict[TopicPartition, int] = {}
            for tp in tps:
                start = starts[tp]
                if start is not None and start.offset < ends[tp]:
                    consumer.seek(tp, start.offset)
                    pending[tp] = ends[tp]
                else:
                    consumer.pause(tp)
            while pending:
                batch = await consumer.getmany(*pending, timeout_ms=1000)
                for tp, messages in batch.items():
                    ids = found[tp.partition]
                    for message in messages:
                        try:
                            ids.add(UUID(from_json(message.value or b"{}")["event_id"]))
                        except (KeyError, ValueError, TypeError):
                            continue  # not ours to judge: the reader of the topic counts it
                for tp, end in list(pending.items()):
                    if await consumer.position(tp) >= end:
                        del pending[tp]
                        consumer.pause(tp)
            return found
        finally:
            await consumer.stop()
