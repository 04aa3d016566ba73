"""The cases table's partitions and changelog, written in batches (the `CaseStore` port).

The store and the changelog topic are the Faust table's: recovery and standby replicas read
the same records as for a table written one key at a time (decision 0130).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import rocksdict


class TableCaseStore:
    """Reads a partition's RocksDB; sends a flush as one changelog batch per partition."""

    def __init__(self, app: Any, table: Any) -> None:
        self.app, self.table = app, table

    def get(self, partition: int, key: bytes) -> bytes | None:
        value: bytes | None = self.table.data._db_for_partition(partition).get(key)
        return value

    async def send(self, batch: Mapping[int, Mapping[bytes, bytes | None]]) -> dict[int, int]:
        """Send each partition's writes to its changelog partition; the last offset of each.

        The partitions are sent side by side: the producer takes a partition's next batch only
        once its previous one has gone out in a request, and it has one request at a time in
        flight to a broker, so sent one partition after the other a flush needed a round trip
        per batch of every partition (a 20,000-write flush took 3-4 s at 5,000 events/s)
        instead of one per batch of its largest partition.
        """
        producer: Any = self.app.producer._ensure_producer()
        topic = self.table.changelog_topic_name
        sends = [
            _send_partition(producer, topic, partition, writes)
            for partition, writes in batch.items()
        ]
        last: dict[int, int] = {}
        for partition, sent in zip(batch, await asyncio.gather(*sends), strict=True):
            for count, future in sent:
                metadata = await future
                last[partition] = max(last.get(partition, -1), metadata.offset + count - 1)
        return last

    def write(self, partition: int, writes: Mapping[bytes, bytes | None], offset: int) -> None:
        """Store the writes and the changelog offset they reach, atomically."""
        store = self.table.data
        rows = rocksdict.WriteBatch(raw_mode=True)
        for key, value in writes.items():
            if value is None:
                rows.delete(key)
            else:
                rows.put(key, value)
        rows.put(store.offset_key, str(offset).encode())
        store._db_for_partition(partition).write(rows)


async def _send_partition(
    producer: Any, topic: str, partition: int, writes: Mapping[bytes, bytes | None]
) -> list[tuple[int, Any]]:
    """Hand one partition's writes to the producer in order, a batch at a time; the records of
    each batch and the future of its acknowledgement."""
    sent: list[tuple[int, Any]] = []
    builder, count = producer.create_batch(), 0
    for key, value in writes.items():
        if builder.append(timestamp=None, key=key, value=value) is None:
            # Full: send it and go on in a new one.
            sent.append((count, await producer.send_batch(builder, topic, partition=partition)))
            builder, count = producer.create_batch(), 0
            builder.append(timestamp=None, key=key, value=value)
        count += 1
    sent.append((count, await producer.send_batch(builder, topic, partition=partition)))
    return sent
