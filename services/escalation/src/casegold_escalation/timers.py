"""The timer loop: keeps the due index in step with the assigned partitions and turns due
entries into ticks. It never writes a table (Faust only allows that inside an agent).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import UUID

import structlog
from faust.types import TP

from casegold_escalation import metrics
from casegold_escalation.app import Worker
from casegold_escalation.lag import split_due, unread_bounds
from casegold_escalation.processor import Message
from casegold_escalation.records import Tick, next_check_of
from casegold_sla import to_us

log = structlog.get_logger("casegold.escalation")


async def timer_loop(worker: Worker) -> None:
    """Turn due index entries into ticks, in bounded batches, until the worker stops."""
    interval = worker.settings.tick_interval
    while not worker.app.should_stop:
        try:
            await tick_once(worker)
        except asyncio.CancelledError:
            raise
        except Exception:
            metrics.FAILURES.labels("timer").inc()
            log.exception("timer loop failed")
        await asyncio.sleep(interval)


async def tick_once(worker: Worker) -> int:
    """One pass of the timer loop; returns the number of ticks sent."""
    app = worker.app
    if app.rebalancing or getattr(app, "in_recovery", False):
        metrics.RECOVERING.set(1)
        worker.ready = False
        return 0
    await sync_index(worker)
    metrics.RECOVERING.set(0)
    worker.ready = True
    settings = worker.settings
    now_us = to_us(worker.clock())
    retry = int(settings.tick_retry * 1_000_000)
    sent = 0
    held: list[tuple[int, bytes, int]] = []
    while True:
        due = worker.index.pop_due(now_us, settings.tick_batch, retry)
        if not due:
            break
        if settings.wait_for_unread:
            due, waiting = split_due(due, unread_bounds_of(worker, {p for p, _, _ in due}))
            held += waiting
        await worker.send(tick_messages(worker, due))
        sent += len(due)
        metrics.TICKS.inc(len(due))
        await asyncio.sleep(0)  # let the agents run between batches
    for partition, key, due_us in held:
        # Due again at its own instant, unless the agent rescheduled the case meanwhile.
        if worker.index.due_of(key) == now_us + retry:
            worker.index.schedule(partition, key, due_us)
    metrics.TIMERS_HELD.set(len(held))
    # Due and not yet applied: ticks on their way, and steps held behind unread events.
    metrics.TIMERS_PENDING.set(worker.index.ticked + len(held))
    metrics.OPEN_CASES.set(len(worker.index))
    return sent


def unread_bounds_of(worker: Worker, partitions: set[int]) -> dict[int, int | None]:
    """Per partition with unread case events, the instant from which due steps wait."""
    topic = worker.settings.case_events_topic
    consumer: Any = worker.app.consumer
    tps = {p: TP(topic, p) for p in partitions}
    ends: dict[int, int] = {}
    for partition, tp in tps.items():
        # The end the last fetch response reported: no broker round trip per pass (asking the
        # broker through the consumer's thread waits behind its fetch and delays every step).
        try:
            end = consumer.highwater(tp)
        except Exception:  # not assigned (any more): unknown, so its steps wait
            continue
        if end is not None:
            ends[partition] = int(end)
    committed = consumer._committed_offset  # Faust keeps the group's offsets per partition
    return unread_bounds(
        partitions, ends, worker.progress, {p: committed.get(tp) for p, tp in tps.items()}
    )


async def sync_index(worker: Worker) -> None:
    """Rebuild the due index for newly assigned partitions; forget revoked ones."""
    assigned = worker.assigned_partitions()
    indexed = worker.indexed_partitions
    revoked = (indexed - assigned) | (indexed & worker.revoked_since_sync)
    worker.revoked_since_sync.clear()
    indexed -= revoked
    if revoked:
        worker.recent.forget(revoked)
        for partition in revoked:
            worker.progress.pop(partition, None)
        dropped = worker.index.drop_partitions(revoked)
        log.info("due index dropped partitions", partitions=sorted(revoked), cases=dropped)
    added = sorted(assigned - indexed)
    if added:
        metrics.RECOVERING.set(1)
        started = time.monotonic()
        await worker.recent.load_many(added)
        count = await _index_partitions(worker, added)
        elapsed = time.monotonic() - started
        metrics.INDEX_REBUILD.observe(elapsed)
        log.info("due index rebuilt", partitions=added, cases=count, seconds=round(elapsed, 3))
    worker.indexed_partitions = assigned


async def _index_partitions(worker: Worker, partitions: list[int]) -> int:
    # Reads the first 8 bytes of every stored case, straight from each partition's RocksDB.
    store: Any = worker.cases.data
    count = 0
    for partition in partitions:
        db = store._db_for_partition(partition)
        for key, value in store._visible_items(db):
            worker.index.schedule(partition, key, next_check_of(value))
            count += 1
            if count % 50_000 == 0:
                await asyncio.sleep(0)
    return count


async def on_partitions_revoked(
    worker: Worker, sender: Any, *args: Any, signal: Any = None, **_: Any
) -> None:
    """Faust's signal: the index of revoked partitions is stale until the next sync."""
    revoked: set[Any] = args[0] if args else set()
    worker.ready = False
    source = worker.settings.case_events_topic
    worker.revoked_since_sync.update(tp.partition for tp in revoked if tp.topic == source)


def tick_messages(worker: Worker, due: list[tuple[int, bytes, int]]) -> list[Message]:
    """Ticks of due (partition, key, due) entries; a key that is no case id is dropped alone."""
    messages = []
    for partition, key, due_us in due:
        try:
            case_id = UUID(key.decode("ascii"))
        except ValueError:
            # Stored before keys were checked at the door: it must not fail its batch-mates.
            metrics.FAILURES.labels("timer_key").inc()
            worker.index.schedule(partition, key, None)
            continue
        messages.append(Message(worker.settings.ticks_topic, key, Tick(case_id, due_us).encode()))
    return messages
