"""The worker's Faust agents: decode, call the processor, send, then store (a thin shell).

- `cases`: reads `complaints.case-events` and the internal ticks topic (co-partitioned, so a
  case's events and ticks reach the same partition and the same table shard), applies them
  through `CaseProcessor`, sends what must be sent and waits for the broker's acknowledgement,
  and only then stores the new state. A crash in between resends (same deterministic ids,
  deduplicated downstream) rather than losing a step.
- `customers`: counts a customer's cases (repartitioned by customer key) and tells the case's
  partition when the customer is a repeat complainant.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, cast
from uuid import UUID

import faust
import structlog

from casegold_contracts import EscalationRaised, Undecodable, parse
from casegold_escalation import metrics
from casegold_escalation.app import Worker
from casegold_escalation.guard import guarded
from casegold_escalation.lag import Progress
from casegold_escalation.pipeline import WritePipeline
from casegold_escalation.processor import (
    CaseUpdate,
    count_customer_case,
    forget_customer_case,
)
from casegold_escalation.records import CustomerCase, Tick, next_check_of
from casegold_escalation.state import CaseWrites
from casegold_escalation.timers import event_bounds
from casegold_sla import PolicyVersionUnknown, StateFormatError, from_us
from casegold_sla.redact import mask_phones

log = structlog.get_logger("casegold.escalation")


async def cases_agent(worker: Worker, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
    """Apply every case event and tick of the worker's partitions, one at a time."""
    # Acks are the pipeline's: a record is acked once its write is stored (pipeline.py).
    manual: Any = cast(Any, stream).noack()
    pipeline = worker.pipeline = WritePipeline(worker, worker.ack)
    pipeline.start()
    apply = functools.partial(apply_record, worker)
    feed = worker.feeds.get("cases")
    if feed is not None:
        feed.start(apply)
    try:
        # The batch consumer feeds the topics' records a fetch at a time (fetch.py); the
        # stream only carries records put on it directly (the agent's test context).
        async for event in manual.events():
            await apply(event.message)
            yield None
    finally:
        if feed is not None:
            await feed.stop()
        await pipeline.stop()


async def apply_record(worker: Worker, message: Any) -> None:
    """Apply one record of the case events or the ticks; acked once its effects are stored."""
    ticks_topic = worker.settings.ticks_topic
    key = message.key
    topic, partition, value = message.topic, message.partition, message.value
    if key is None or value is None:
        metrics.UNDECODABLE.labels("no_key_or_value").inc()
        # Read all the same: timers must not wait for it.
        if topic != ticks_topic:
            worker.progress[partition] = Progress(message.offset, int(message.timestamp * 1e6))
        else:
            worker.tick_progress[partition] = message.offset
        await worker.ack(message)
        return
    if topic == ticks_topic:
        step = functools.partial(apply_tick, worker, message, key, value)
    else:
        step = functools.partial(apply_event, worker, message, key, value)
    worker.record_started = time.monotonic()
    try:
        await guarded(worker, "cases", step, topic=topic, offset=message.offset)
    finally:
        worker.record_started = None
    if worker.pipeline.taken is not message:  # skipped (poison, refused at the door)
        await worker.ack(message)
    if topic != ticks_topic:
        worker.progress[partition] = Progress(message.offset, int(message.timestamp * 1e6))
    else:
        worker.tick_progress[partition] = message.offset


async def apply_event(worker: Worker, message: Any, key: bytes, value: bytes) -> None:
    """Decode a case event, apply it and fire what is due at the event's own time."""
    parsed = parse(value)
    if isinstance(parsed, Undecodable):
        metrics.UNDECODABLE.labels(parsed.reason).inc()
        log.warning(
            "undecodable case event", reason=parsed.reason, detail=mask_phones(parsed.detail)
        )
        return
    if isinstance(parsed, EscalationRaised):
        metrics.UNDECODABLE.labels("wrong_topic").inc()
        return
    reason = key_problem(key, parsed.case_id)
    if reason is not None:
        # Stored under a key that is not its case id, it would be a case no tick can name.
        metrics.REJECTED.labels(reason).inc()
        log.warning("case event refused at the door", reason=reason, event_id=str(parsed.event_id))
        return
    # Decide at the event's own time: while a backlog is replayed, a step must not fire
    # because of how late the worker reads, only because the case really ran late.
    stored = worker.pipeline.get(message.partition, key)
    offset = message.offset
    update = await _with_policies(
        worker, lambda: worker.processor.on_event(stored, parsed, parsed.occurred_at, offset)
    )
    if update.rejection is not None:
        metrics.REJECTED.labels(update.rejection.reason).inc()
        metrics.EVENTS_REJECTED.inc()
    else:
        metrics.EVENTS_APPLIED.inc()
    await commit(worker, message, key, stored, update)


async def apply_tick(worker: Worker, message: Any, key: bytes, value: bytes) -> None:
    """Fire what is due now for the ticked case."""
    tick = Tick.decode(value)  # a malformed tick raises here and is counted as a failure
    reason = key_problem(key, tick.case_id)
    if reason is not None:
        metrics.REJECTED.labels(reason).inc()
        return
    partition = message.partition
    stored = worker.pipeline.get(partition, key)
    if stored is None:
        return  # a tick for a case this worker no longer holds
    now = worker.clock()
    until = now
    if worker.settings.wait_for_unread:
        # A tick may have waited on its topic (sent before a restart, applied after): what it
        # fires is decided under the same hold as the timer's, at apply time (decision 0033).
        bounds = event_bounds(worker, {partition})
        if partition in bounds:
            bound = bounds[partition]
            if bound is None:
                # Nothing of the partition read yet: the case waits in the index, at its due.
                worker.index.schedule(partition, key, next_check_of(stored))
                return
            until = min(now, from_us(bound - 1))
    update = await _with_policies(worker, lambda: worker.processor.on_tick(stored, now, until))
    await commit(worker, message, key, stored, update)


def key_problem(key: bytes, case_id: UUID) -> str | None:
    """Why a record's key cannot stand for its case (None when it is the case id's text)."""
    if key == str(case_id).encode("ascii"):
        return None
    try:
        canonical = str(UUID(key.decode("ascii"))).encode("ascii") == key
    except ValueError:  # UnicodeDecodeError is a ValueError too
        canonical = False
    # Only the canonical text is a case key: tables, ticks and the index compare bytes.
    return "key_mismatch" if canonical else "bad_key"


class PolicyUnavailable(RuntimeError):
    """A case's policy version is on no policy this worker could read: not the record's fault,
    so the guard retries it (and stops the worker past its budget) instead of skipping it."""


async def _with_policies(worker: Worker, step: Callable[[], CaseUpdate]) -> CaseUpdate:
    try:
        return step()
    except StateFormatError:
        # A case frozen under a policy version another worker published after we started.
        await worker.policies.refresh()
    try:
        return step()
    except PolicyVersionUnknown as error:
        raise PolicyUnavailable(str(error)) from None


async def commit(
    worker: Worker, message: Any, key: bytes, stored: bytes | None, update: CaseUpdate
) -> None:
    """Send, then store once the notices are acknowledged: never the other way round."""
    partition = message.partition
    messages = update.messages
    if any(m.notice_id for m in messages):
        if not worker.recent.loaded(partition):
            await worker.recent.load_many([partition])
        sent = [
            m for m in messages if m.notice_id and worker.recent.contains(partition, m.notice_id)
        ]
        if sent:
            metrics.RESEND_SKIPPED.inc(len(sent))
            messages = [m for m in messages if m not in sent]
    if update.forgotten:
        unchanged = stored is None
        if not unchanged:
            metrics.FORGOTTEN.labels("case").inc()
    else:
        unchanged = update.stored is None or update.stored == stored
    await worker.pipeline.submit(message, partition, key, update.stored, unchanged, messages)
    # Fired when sent: the acknowledgement only decides when the step is stored.
    fired_at = worker.clock()
    # A step whose every notice an earlier owner already sent was counted by that owner.
    told = {m.escalation_id for m in messages if m.escalation_id}
    for escalation in update.escalations:
        if escalation.escalation_id not in told:
            continue
        metrics.ESCALATIONS.labels(str(escalation.tier), escalation.reason).inc()
        metrics.FIRE_LAG.observe(max(0.0, (fired_at - escalation.due_at).total_seconds()))
        if escalation.breached is not None:
            metrics.BREACHES.labels(escalation.breached, update.priority or "unknown").inc()
    for milestone in update.breaches:
        metrics.BREACHES.labels(milestone, update.priority or "unknown").inc()
    worker.index.schedule(partition, key, update.next_check_us)


async def customers_agent(worker: Worker, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
    """Count each customer's cases and report repeat complainants."""
    # A record whose write is cached is acked by the cache once stored (state.py).
    manual: Any = cast(Any, stream).noack()
    writes = worker.customer_writes = CaseWrites(
        worker, worker.ack, worker.customer_store, "customers"
    )
    writes.start()
    apply = functools.partial(count_record, worker)
    feed = worker.feeds.get("customers")
    if feed is not None:
        feed.start(apply)
    try:
        async for event in manual.events():  # records put directly only (see cases_agent)
            await apply(event.message)
            yield None
    finally:
        if feed is not None:
            await feed.stop()
        await writes.stop()


async def count_record(worker: Worker, message: Any) -> None:
    """Count one record of the customers topic; acked once its count is stored."""
    key, value = message.key, message.value
    if key is not None and value is not None:
        await guarded(
            worker,
            "customers",
            functools.partial(count_case, worker, message, key, value),
            offset=message.offset,
        )
    if worker.customer_writes.taken is not message:  # nothing to store, or skipped
        await worker.ack(message)


async def count_case(worker: Worker, message: Any, key: bytes, value: bytes) -> None:
    """Count one case of a customer; the detection is acknowledged before the record is stored."""
    writes, partition = worker.customer_writes, message.partition
    case = CustomerCase.decode(value)
    if case.forget:
        record, delete = forget_customer_case(writes.get(partition, key), case)
        if delete:
            await writes.put(partition, key, None, message)  # a tombstone on the changelog
            metrics.FORGOTTEN.labels("customer").inc()
        elif record is not None:
            await writes.put(partition, key, record, message)
        return
    rule = worker.policies.registry.current.repeat_rule
    record, messages = count_customer_case(
        writes.get(partition, key),
        case,
        rule,
        worker.clock(),
        worker.settings.case_events_topic,
    )
    if messages:
        # Awaited: the customer's record below must never be stored without them.
        await worker.send(messages, wait_all=True)
    if record is not None:
        await writes.put(partition, key, record, message)
