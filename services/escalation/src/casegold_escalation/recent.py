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
from uuid import UUID

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic_core import from_json

from casegold_contracts import ESCALATIONS
from casegold_platform.settings import KafkaSettings


class RecentlySent:
    """Event ids found on the escalations topic, per partition, for a look-back window."""

    def __init__(self, kafka: KafkaSettings, lookback_seconds: float) -> None:
        self.kafka = kafka
        self.lookback_seconds = lookback_seconds
        self._ids: dict[int, set[UUID]] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def loaded(self, partition: int) -> bool:
        return partition in self._ids

    def contains(self, partition: int, event_id: UUID) -> bool:
        return event_id in self._ids.get(partition, ())

    def forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self._ids.pop(partition, None)

    async def load(self, partition: int) -> int:
        """Read the partition's recent escalations once; returns how many ids were found."""
        lock = self._locks.setdefault(partition, asyncio.Lock())
        async with lock:
            if partition in self._ids:
                return len(self._ids[partition])
            self._ids[partition] = await self._read(partition)
            return len(self._ids[partition])

    async def _read(self, partition: int) -> set[UUID]:
        tp = TopicPartition(ESCALATIONS, partition)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign([tp])
            since_ms = int((time.time() - self.lookback_seconds) * 1000)
            start = (await consumer.offsets_for_times({tp: since_ms}))[tp]
            end = (await consumer.end_offsets([tp]))[tp]
            if start is None or start.offset >= end:
                return set()
            consumer.seek(tp, start.offset)
            found: set[UUID] = set()
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for message in batch.get(tp, []):
                    try:
                        found.add(UUID(from_json(message.value or b"{}")["event_id"]))
                    except (KeyError, ValueError, TypeError):
                        continue  # not ours to judge: the reader of the topic counts it
            return found
        finally:
            await consumer.stop()
