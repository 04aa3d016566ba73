"""The worker's tables written in batches (decision 0130).

A Faust table write costs, per event, a RocksDB put, one changelog record through Faust's
producer buffer and a second RocksDB put (the persisted offset) when that record is
acknowledged: more than all of the worker's own work per event. Here a case's new state waits
in a per-partition write cache, and one flush sends each partition's cache as one changelog
batch and, once the broker has acknowledged it, writes it to the partition's RocksDB in one
write batch together with the changelog offset it reaches. Only then are the source records
whose writes it carries acked, so the offset committed never passes a state that is not on
the changelog.

The store and the changelog topic stay Faust's: recovery and standby replicas read the same
records they always did. A crash before a flush is acknowledged loses only writes whose
source records were not committed, and those are read again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from casegold_escalation import metrics
from casegold_escalation.guard import Backoff
from casegold_escalation.ports import CaseStore

# Writes waiting for a flush at once; the agent waits beyond it.
MAX_DIRTY = 20_000


async def wait_for_room(room: asyncio.Event, full: Callable[[], bool], waited: Any) -> None:
    """Wait while full() says there is no room (room is set when some is made); the seconds
    waited go to the counter `waited`."""
    if not full():
        return
    began = time.monotonic()
    while full():
        room.clear()
        await room.wait()
    waited.inc(time.monotonic() - began)


class CaseWrites:
    """A write cache in front of the cases table: read-your-writes, flushed in batches."""

    def __init__(
        self,
        worker: Any,
        ack: Callable[[Any], Awaitable[None]],
        store: CaseStore,
        agent: str = "cases",
    ) -> None:
        self.worker, self.ack, self.store = worker, ack, store
        self.waited = metrics.WAITED.labels(agent, "state")
        self.dirty: dict[int, dict[bytes, bytes | None]] = {}
        self.flushing: dict[int, dict[bytes, bytes | None]] = {}
        self.acks: dict[int, list[Any]] = {}
        self.count = 0
        # Bumped when a partition is revoked: a flush begun before does not write its store.
        self.epochs: dict[int, int] = {}
        self.wake = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()
        self.task: asyncio.Task[None] | None = None
        self.taken: Any = None  # the last record handed to put (acked here, not by the agent)

    def get(self, partition: int, key: bytes) -> bytes | None:
        """The case's newest value: unflushed, being flushed, else stored."""
        dirty = self.dirty.get(partition)
        if dirty is not None and key in dirty:
            return dirty[key]
        flushing = self.flushing.get(partition)
        if flushing is not None and key in flushing:
            return flushing[key]
        return self.store.get(partition, key)

    async def put(self, partition: int, key: bytes, value: bytes | None, record: Any) -> None:
        """Write value (None: delete) and ack its source record once it is on the changelog
        and stored."""
        self.taken = record
        await wait_for_room(self.room, lambda: self.count >= MAX_DIRTY, self.waited)
        dirty = self.dirty.get(partition)
        if dirty is None:
            dirty = self.dirty[partition] = {}
            self.acks[partition] = []
        if key not in dirty:
            self.count += 1
        dirty[key] = value
        self.acks[partition].append(record)
        self.wake.set()

    def revoke(self, partitions: set[int]) -> None:
        """Forget what revoked partitions had not flushed: their records are read again."""
        for partition in partitions:
            self.epochs[partition] = self.epochs.get(partition, 0) + 1
            dropped = self.dirty.pop(partition, None)
            self.acks.pop(partition, None)
            if dropped:
                self.count -= len(dropped)
        self.room.set()

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None

    async def _run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            # Let the records already fetched add their writes to this flush.
            await asyncio.sleep(0)
            batch, acks = self.dirty, self.acks
            self.dirty, self.acks, self.count = {}, {}, 0
            self.room.set()
            self.flushing = batch
            try:
                await self._flush(batch, acks)
            finally:
                self.flushing = {}

    async def _flush(
        self, batch: dict[int, dict[bytes, bytes | None]], acks: dict[int, list[Any]]
    ) -> None:
        began = time.monotonic()
        epochs = {partition: self.epochs.get(partition, 0) for partition in batch}
        offsets = await self._send(batch)
        sent = time.monotonic()
        metrics.FLUSH_CHANGELOG.observe(sent - began)
        for partition, writes in batch.items():
            if self.epochs.get(partition, 0) != epochs[partition]:
                continue  # revoked meanwhile: the changelog has it, the new owner recovers it
            self.store.write(partition, writes, offsets[partition])
            for record in acks[partition]:
                await self.ack(record)
        metrics.STATE_FLUSHED.observe(sum(len(writes) for writes in batch.values()))
        metrics.FLUSH_STORE.observe(time.monotonic() - sent)

    async def _send(self, batch: dict[int, dict[bytes, bytes | None]]) -> dict[int, int]:
        """Send each partition's writes to the changelog; returns the last offset of each.
        A failed send is sent again with back-off; past the retry budget the worker crashes
        (the group then reads the uncommitted records again)."""
        backoff = Backoff(
            self.worker,
            "state",
            "resending table writes",
            "table writes unacknowledged past the retry budget",
        )
        while True:
            try:
                return await self.store.send(batch)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                await backoff.failed(error)
