"""The timer loop: keeps the due index in step with the assigned partitions and turns due
entries into ticks. It never writes a table (Faust only allows that inside an agent).
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any, Final
from uuid import UUID

import structlog
from faust.types import TP

from casegold_escalation import metrics
from casegold_escalation.app import Worker
from casegold_escalation.consumer_lag import faust_lags
from casegold_escalation.lag import unread_bounds
from casegold_escalation.processor import Message
from casegold_escalation.records import Tick, next_check_of
from casegold_sla import to_us
from casegold_sla.redact import mask_phones

log = structlog.get_logger("casegold.escalation")

HELD_COUNT_INTERVAL = 1.0


async def timer_loop(worker: Worker) -> None:
    """Turn due index entries into ticks, in bounded batches, until the worker stops."""
    interval = worker.settings.tick_interval
    lag_refreshed = 0.0
    while not worker.app.should_stop:
        try:
            await tick_once(worker)
            await reseek_stalled(worker)
            if time.monotonic() - lag_refreshed >= worker.settings.lag_interval:
                lag_refreshed = time.monotonic()
                refresh_lag(worker)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            metrics.FAILURES.labels("timer").inc()
            log.error("timer loop failed", error=mask_phones(f"{type(error).__name__}: {error}"))
        await asyncio.sleep(interval)


# The cyclic collector's thresholds once the worker is ready (decision 0141): the due index and
# the tables' recovery leave hundreds of thousands of long-lived objects that every full
# collection would scan again.
GC_THRESHOLDS: Final = (50_000, 20, 100)


def tune_gc() -> None:
    """Keep what start-up and recovery made out of every scan, and collect less often."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def tick_once(worker: Worker) -> int:
    """One pass of the timer loop; returns the number of ticks sent."""
    app = worker.app
    if app.rebalancing or getattr(app, "in_recovery", False):
        metrics.RECOVERING.set(1)
        worker.ready = False
        return 0
    await sync_index(worker)
    metrics.RECOVERING.set(0)
    if worker.tune_gc:
        worker.tune_gc = False
        tune_gc()
    worker.ready = True
    settings = worker.settings
    now_us = to_us(worker.clock())
    retry = int(settings.tick_retry * 1_000_000)
    # Due steps of a partition with unread case events wait in the index (decision 0033).
    partitions = worker.index.partitions()
    if settings.wait_for_unread:
        bounds = unread_bounds_of(worker, partitions)
    else:
        bounds = {p: None for p in ticks_queued(worker, partitions)}
    sent = 0
    while True:
        due = worker.index.pop_due(now_us, settings.tick_batch, retry, bounds)
        if not due:
            break
        await worker.send(tick_messages(worker, due))
        sent += len(due)
        metrics.TICKS.inc(len(due))
        await asyncio.sleep(0)  # let the agents run between batches
    if time.monotonic() - worker.held_counted >= HELD_COUNT_INTERVAL:
        # Counting walks every held entry: once a second is plenty for a gauge.
        worker.held_counted = time.monotonic()
        worker.held = worker.index.held(now_us, bounds) if bounds else 0
    held = worker.held
    metrics.TIMERS_HELD.set(held)
    # Due and not yet applied: ticks on their way, and steps held behind unread events.
    metrics.TIMERS_PENDING.set(worker.index.ticked + held)
    metrics.OPEN_CASES.set(len(worker.index))
    return sent


async def reseek_stalled(worker: Worker) -> None:
    """Seek back the partitions whose unread records never reach the agent (stall.py)."""
    started = worker.record_started
    if started is not None and time.monotonic() - started >= worker.settings.stall_seconds:
        return  # the agent itself is held up (a dependency retried): nothing can be judged
    if any(feed.backed_up() for feed in worker.feeds.values()):
        # Fetched records wait for the agent: a partition not handed anything meanwhile waits
        # its turn, it is not lost. Judged afresh once the agent keeps up again.
        worker.stalls.reset()
        return
    settings = worker.settings
    consumer: Any = worker.app.consumer
    committed, delivered = consumer._committed_offset, consumer._read_offset
    first: dict[TP, int | None] = {}
    for partition in worker.indexed_partitions:
        events, ticks = (
            TP(settings.case_events_topic, partition),
            TP(settings.ticks_topic, partition),
        )
        done = worker.progress.get(partition)
        first[events] = done.offset + 1 if done else committed.get(events)
        tick = worker.tick_progress.get(partition)
        first[ticks] = tick + 1 if tick is not None else committed.get(ticks)
    ends: dict[TP, int | None] = {}
    for tp in first:
        try:
            ends[tp] = consumer.highwater(tp)
        except Exception:  # not assigned (any more)
            ends[tp] = None
    handed = {tp: delivered.get(tp) for tp in first}
    seeks: dict[TP, int] = {}
    for tp, offset in worker.stalls.stalled(time.monotonic(), first, handed, ends):
        metrics.RESEEKS.labels(tp.topic).inc()
        log.warning(
            "partition stalled: seeking back to its first unfinished record",
            topic=tp.topic,
            partition=tp.partition,
            offset=offset,
        )
        seeks[tp] = offset
    if seeks:
        # In the consumer's own thread: a seek from this one raced its fetch (aiokafka's
        # fetcher raised KeyError on the partition and the worker crashed).
        await consumer.seek_wait(seeks)


def refresh_lag(worker: Worker) -> None:
    """Set casegold_consumer_lag for the partitions of the topics the agents read."""
    settings = worker.settings
    sources = {settings.case_events_topic, settings.ticks_topic, settings.customers_topic}
    assigned = {tp for tp in worker.app.assignor.assigned_actives() if tp.topic in sources}
    processed = {
        (settings.case_events_topic, partition): done.offset + 1
        for partition, done in worker.progress.items()
    }
    worker.lag.update(faust_lags(worker.app.consumer, assigned, processed))


def unread_bounds_of(worker: Worker, partitions: set[int]) -> dict[int, int | None]:
    """Per partition with unread case events or unapplied ticks, the instant from which due
    steps wait (None: all of them)."""
    bounds = event_bounds(worker, partitions)
    for partition in ticks_queued(worker, partitions):
        bounds[partition] = None
    return bounds


def event_bounds(worker: Worker, partitions: set[int]) -> dict[int, int | None]:
    """Per partition, the instant from which due steps wait for case events not read yet."""
    topic = worker.settings.case_events_topic
    consumer: Any = worker.app.consumer
    tps = {p: TP(topic, p) for p in partitions}
    ends: dict[int, int] = {}
    built: dict[int, int] = {}
    times = worker.end_times
    for partition, tp in tps.items():
        # The end the last fetch response reported: no broker round trip per pass (asking the
        # broker through the consumer's thread waits behind its fetch and delays every step).
        # When that response was taken in is read first: the consumer's thread sets the end,
        # then the time, so a time read before the end is never newer than the end's response.
        try:
            taken_in = consumer.end_taken_in(tp)
            end = consumer.highwater(tp)
        except Exception:  # not assigned (any more): unknown, so its steps wait
            continue
        if end is not None:
            ends[partition] = int(end)
        after = times.built_after(partition, taken_in)
        if after is not None:
            built[partition] = after
    committed = consumer._committed_offset  # Faust keeps the group's offsets per partition
    return unread_bounds(
        partitions, ends, worker.progress, {p: committed.get(tp) for p, tp in tps.items()}, built
    )


def ticks_queued(worker: Worker, partitions: set[int]) -> set[int]:
    """Partitions whose ticks topic still has ticks the agent has not applied.

    Their due steps (new ones and re-ticks alike) wait until those are read: a tick sent now
    would only queue behind them, and re-sending every case still waiting each `tick_retry`
    seconds multiplied the ticks of a lagging worker (6 million ticks for 100,000 purges in
    the retention benchmark). Once the queue is read, a case still ticked lost its tick.
    """
    topic = worker.settings.ticks_topic
    consumer: Any = worker.app.consumer
    committed = consumer._committed_offset
    queued = set()
    for partition in partitions:
        tp = TP(topic, partition)
        try:
            end = consumer.highwater(tp)
        except Exception:  # not assigned: nothing of ours to wait for
            continue
        done = worker.tick_progress.get(partition)
        start = committed.get(tp)
        if done is None and start is None:
            # Nothing read since the assignment and no committed offset known: the ticks up
            # to the end may all be applied already, and then none would come to unblock the
            # partition. Not knowing costs a tick too many, never a step.
            continue
        next_unread = done + 1 if done is not None else int(start)
        if end is not None and int(end) > next_unread:
            queued.add(partition)
    return queued


async def sync_index(worker: Worker) -> None:
    """Rebuild the due index for newly assigned partitions; forget revoked ones."""
    assigned = worker.assigned_partitions()
    indexed = worker.indexed_partitions
    revoked = (indexed - assigned) | (indexed & worker.revoked_since_sync)
    worker.revoked_since_sync.clear()
    indexed -= revoked
    if revoked:
        worker.recent.forget(revoked)
        worker.end_times.forget(revoked)
        for partition in revoked:
            worker.progress.pop(partition, None)
            worker.tick_progress.pop(partition, None)
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
    partitions = {tp.partition for tp in revoked if tp.topic == source}
    worker.revoked_since_sync.update(partitions)
    if worker.pipeline is not None:
        worker.pipeline.writes.revoke(partitions)
    if worker.customer_writes is not None:
        customers = worker.settings.customers_topic
        worker.customer_writes.revoke({tp.partition for tp in revoked if tp.topic == customers})


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
