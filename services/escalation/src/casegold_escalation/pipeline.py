"""Stores a case's new state only once its notices are acknowledged, without making the next
record wait for that acknowledgement.

A stored step must always have been sent: a state that says "tier 1 fired" must never reach the
table (or its changelog) while the notice is still unacknowledged, or a crash in between loses
the notice for good. Awaiting each acknowledgement before the next record made the agent wait
one broker round trip per notice in line (about 70 ms each on a loaded host: 100 steps due a
second kept it idle most of the time and 6-12 s behind the case events).

So the agent sends and moves on; the write and the source record's ack wait in a queue, in
order, until the notices before them are acknowledged. The source offset is committed only
past acked records, so a crash redelivers every record whose write was still waiting. Until
its write lands, the newest pending value of a case is read from `pending`, and a later update
of that case queues behind it (never overtaking it in the table).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from casegold_escalation import metrics
from casegold_escalation.guard import Backoff
from casegold_escalation.processor import Message
from casegold_escalation.state import CaseWrites, wait_for_room

# At most this many writes wait at once; the agent waits for the oldest beyond it.
MAX_PENDING = 2000


@dataclass(eq=False, slots=True)
class Pending:
    """One record's table write (or deletion, value None) and the notices it waits for."""

    record: Any
    partition: int
    key: bytes
    value: bytes | None
    write: bool
    messages: Sequence[Message]
    acks: Awaitable[None] | None


class WritePipeline:
    """Orders table writes after the acknowledgements of the notices sent before them."""

    def __init__(self, worker: Any, ack: Callable[[Any], Awaitable[None]]) -> None:
        self.worker, self.ack = worker, ack
        self.queue: deque[Pending] = deque()
        self.pending: dict[bytes, Pending] = {}
        self.ready = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()
        self.taken: Any = None  # the last record handed to submit (acked by the pipeline)
        self.task: asyncio.Task[None] | None = None
        self.writes = CaseWrites(worker, ack, worker.case_store)

    def get(self, partition: int, key: bytes) -> bytes | None:
        """The case's newest value: a pending write's, else the table's."""
        waiting = self.pending.get(key)
        return waiting.value if waiting is not None else self.writes.get(partition, key)

    def has(self, key: bytes) -> bool:
        """Whether the case has a write still waiting."""
        return key in self.pending

    async def submit(
        self,
        record: Any,
        partition: int,
        key: bytes,
        value: bytes | None,
        unchanged: bool,
        messages: Sequence[Message],
    ) -> None:
        """Send messages now; store value (None: delete) and ack the source record once the
        notices among them are acknowledged. `unchanged`: nothing to store."""
        self.taken = record
        acks = await self.worker.send.pipelined(messages)
        if acks is None and (unchanged or key not in self.pending):
            if unchanged:
                await self.ack(record)
            else:
                await self.writes.put(partition, key, value, record)
            return
        await wait_for_room(
            self.room, lambda: len(self.queue) >= MAX_PENDING, metrics.WAITED_NOTICES
        )
        entry = Pending(record, partition, key, value, not unchanged, messages, acks)
        self.queue.append(entry)
        if entry.write:
            self.pending[key] = entry
        metrics.WRITES_PENDING.set(len(self.queue))
        self.ready.set()

    def start(self) -> None:
        """Start the writer (inside the agent, so it stops with it)."""
        self.writes.start()
        if self.task is None:
            self.task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
        await self.writes.stop()

    async def _run(self) -> None:
        while True:
            if not self.queue:
                self.ready.clear()
                await self.ready.wait()
                continue
            head = self.queue[0]
            await self._acknowledged(head)
            if head.write:
                # Acked by the write cache once the write is on the changelog (state.py).
                await self.writes.put(head.partition, head.key, head.value, head.record)
            self.queue.popleft()
            if self.pending.get(head.key) is head:
                del self.pending[head.key]
            if not head.write:
                await self.ack(head.record)
            metrics.WRITES_PENDING.set(len(self.queue))
            self.room.set()

    async def _acknowledged(self, head: Pending) -> None:
        """Wait for the head's notices; on a failed send, send them again with back-off, and
        crash the worker past the retry budget (the group then redelivers from the commit)."""
        backoff = Backoff(
            self.worker,
            "cases",
            "resending notices",
            "notices unacknowledged past the retry budget",
        )
        while True:
            try:
                if head.acks is not None:
                    await head.acks
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                await backoff.failed(error)
                try:
                    head.acks = await self.worker.send.pipelined(head.messages)
                except Exception as again:  # the producer itself refused: try again later
                    head.acks = _failed(again)


async def _failed(error: Exception) -> None:
    raise error
