"""Reads `complaints.escalations`, records the deliveries of each batch, then commits offsets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from casegold_contracts import ESCALATIONS, EscalationRaised, Undecodable, parse
from casegold_notifier import metrics
from casegold_notifier.adapters.delivery_log import DeliveryStore
from casegold_notifier.deliveries import PlannedDelivery, deliveries_for
from casegold_notifier.lag import LagReporter
from casegold_platform.clock import Clock, utc_now
from casegold_sla.recipients import RecipientBook
from casegold_sla.redact import mask_phones

log = structlog.get_logger("casegold_notifier")


class EscalationConsumer:
    """A consumer group member; offsets are committed only once a batch's rows are written."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        store: DeliveryStore,
        book: RecipientBook,
        max_age: timedelta,
        max_records: int,
        recorded: Callable[[], None],
        # Quiet hours and a notice's age are decided at the moment of reading.
        clock: Clock = utc_now,
        lag_interval: float = 5.0,
    ) -> None:
        self.consumer, self.store, self.book = consumer, store, book
        self.max_age, self.max_records = max_age, max_records
        self.recorded, self.clock = recorded, clock
        self.started = False
        self.lag = LagReporter(consumer, lag_interval)

    async def run(self, stopping: asyncio.Event) -> None:
        """Consume until `stopping` is set; the batch in hand is recorded and committed first."""
        await self.consumer.start()
        self.consumer.subscribe([ESCALATIONS])
        self.started = True
        while not stopping.is_set():
            batch = await self.consumer.getmany(timeout_ms=300, max_records=self.max_records)
            await self.lag.maybe_refresh()
            if not batch:
                continue
            planned = [
                row
                for messages in batch.values()
                for m in messages
                for row in self.deliveries_of(m)
            ]
            if not await self._record(planned, stopping):
                return  # stopped before the rows were written: the offsets stay uncommitted
            await self._commit({tp: messages[-1].offset + 1 for tp, messages in batch.items()})
            self.recorded()

    async def stop(self) -> None:
        """Leave the group (its partitions move to the other notifiers at once)."""
        await self.consumer.stop()

    def deliveries_of(self, message: ConsumerRecord[bytes, bytes]) -> list[PlannedDelivery]:
        """The deliveries of one message; anything but an escalation_raised is counted, skipped."""
        event = parse(message.value or b"")
        if isinstance(event, Undecodable):
            metrics.MESSAGES.labels(event.reason).inc()
            log.warning(
                "message_skipped",
                reason=event.reason,
                detail=mask_phones(event.detail),
                partition=message.partition,
                offset=message.offset,
            )
            return []
        if not isinstance(event, EscalationRaised):
            metrics.MESSAGES.labels("other_type").inc()
            return []
        metrics.MESSAGES.labels("recorded").inc()
        rows = deliveries_for(event, self.book, self.clock(), self.max_age)
        if not rows:
            metrics.NOTIFICATIONS.labels("none", "unrouted").inc()
            log.warning(
                "notice_unrouted",
                escalation_id=str(event.payload.escalation_id),
                audience=event.payload.audience,
                step=event.payload.step,
            )
        return rows

    async def _record(self, planned: list[PlannedDelivery], stopping: asyncio.Event) -> bool:
        delay = 0.2
        while True:
            try:
                inserted = await self._record_isolating(planned)
            except Exception as error:  # PostgreSQL away: keep the batch, retry, commit nothing
                metrics.RECORD_FAILURES.inc()
                # No traceback: a database error may quote the values of the batch.
                log.error(
                    "record_failed",
                    deliveries=len(planned),
                    error=mask_phones(f"{type(error).__name__}: {error}"[:500]),
                )
                try:
                    await asyncio.wait_for(stopping.wait(), delay)
                    return False
                except TimeoutError:
                    delay = min(delay * 2, 5.0)
                    continue
            for row in planned:
                if row.notice_id in inserted and row.status != "pending":
                    self._count_new(row)
            return True

    async def _record_isolating(self, planned: list[PlannedDelivery]) -> set[UUID]:
        """Record the batch; if PostgreSQL refuses a value, record notice by notice, and
        dead-letter each notice it refuses alone so the batch is committed past it."""
        try:
            return await self.store.record(planned)
        except asyncpg.DataError:
            pass  # a value (a NUL in jsonb, say) no retry can store: find the notice carrying it
        inserted: set[UUID] = set()
        for rows in _by_notice(planned):
            try:
                inserted |= await self.store.record(rows)
            except asyncpg.DataError as error:
                metrics.MESSAGES.labels("unrecordable").inc()
                inserted |= await self._dead_letter(rows, error)
        return inserted

    async def _dead_letter(
        self, rows: list[PlannedDelivery], error: asyncpg.DataError
    ) -> set[UUID]:
        reason = mask_phones(f"unrecordable: {type(error).__name__}: {error}"[:500])
        log.error("notice_unrecordable", event_id=str(rows[0].event_id), error=reason)
        dead = [
            replace(row, status="dead", last_error=reason, notice=storable(row.notice))
            for row in rows
        ]
        try:
            return await self.store.record(dead)
        except asyncpg.DataError:
            # Not even the scrubbed copy: the log line above and the counter are all that is left.
            log.error("notice_dropped", event_id=str(rows[0].event_id))
            return set()

    def _count_new(self, row: PlannedDelivery) -> None:
        metrics.NOTIFICATIONS.labels(row.channel, row.status).inc()
        if row.status == "dead":
            metrics.DEAD_LETTERS.labels(row.channel).inc()
            log.error(
                "delivery_dead",
                notice_id=str(row.notice_id),
                recipient=row.recipient,
                channel=row.channel,
                error=row.last_error,
            )

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        try:
            await self.consumer.commit(offsets)
        except KafkaError as error:
            # A rebalance took the partition: its new owner re-reads the batch, and the unique
            # key makes recording it again a no-op.
            log.warning("commit_failed", error=repr(error))


def _by_notice(planned: list[PlannedDelivery]) -> list[list[PlannedDelivery]]:
    groups: dict[UUID, list[PlannedDelivery]] = {}
    for row in planned:
        groups.setdefault(row.event_id, []).append(row)
    return list(groups.values())


def storable(notice: str) -> str:
    """The notice's JSON with every NUL (which jsonb refuses) shown as U+FFFD."""

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("\x00", "\ufffd")
        if isinstance(value, list):
            return [scrub(item) for item in value]
        if isinstance(value, dict):
            return {scrub(k): scrub(v) for k, v in value.items()}
        return value

    return json.dumps(scrub(json.loads(notice)), ensure_ascii=False)
