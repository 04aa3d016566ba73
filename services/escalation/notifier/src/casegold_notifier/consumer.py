"""Reads `complaints.escalations`, records the deliveries of each batch, then commits offsets."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from casegold_contracts import ESCALATIONS, EscalationRaised, Undecodable, parse
from casegold_notifier import metrics
from casegold_notifier.adapters.delivery_log import DeliveryStore
from casegold_notifier.deliveries import PlannedDelivery, deliveries_for
from casegold_platform.clock import Clock, utc_now
from casegold_sla.recipients import RecipientBook

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
    ) -> None:
        self.consumer, self.store, self.book = consumer, store, book
        self.max_age, self.max_records = max_age, max_records
        self.recorded, self.clock = recorded, clock
        self.started = False

    async def run(self, stopping: asyncio.Event) -> None:
        """Consume until `stopping` is set; the batch in hand is recorded and committed first."""
        await self.consumer.start()
        self.consumer.subscribe([ESCALATIONS])
        self.started = True
        while not stopping.is_set():
            batch = await self.consumer.getmany(timeout_ms=300, max_records=self.max_records)
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
                detail=event.detail,
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
                inserted = await self.store.record(planned)
            except Exception:  # PostgreSQL away: keep the batch, retry, commit nothing meanwhile
                metrics.RECORD_FAILURES.inc()
                log.exception("record_failed", deliveries=len(planned))
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
