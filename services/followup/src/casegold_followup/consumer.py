"""The case-events consumer: decode, apply in one transaction, commit offsets after it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Final

import asyncpg
import structlog
from aiokafka.errors import KafkaError

from casegold_contracts import Event, Undecodable, parse
from casegold_followup.adapters.postgres import DOWN, ScheduleSql
from casegold_followup.metrics import FollowupMetrics
from casegold_followup.scheduling import Scheduler

log = structlog.get_logger("casegold_followup")

BACKOFF_MAX: Final = 5.0


class CaseEventConsumer:
    """Reads batches; a batch is retried (the consumer paused) until the database takes it."""

    def __init__(
        self,
        *,
        consumer: Any,
        pool: asyncpg.Pool,
        scheduler: Scheduler,
        metrics: FollowupMetrics,
        batch: int,
    ) -> None:
        self.consumer = consumer
        self.pool = pool
        self.scheduler = scheduler
        self.metrics = metrics
        self.batch = batch
        self.paused = False

    async def run(self) -> None:
        """Consume until cancelled."""
        while True:
            records = await self.consumer.getmany(timeout_ms=500, max_records=self.batch)
            messages = [m for batch in records.values() for m in batch]
            if not messages:
                continue
            events = self._decode(messages)
            await self._apply_until_done(events)
            try:
                await self.consumer.commit()
            except KafkaError as error:
                # The writes are in; a redelivery of this batch is deduped on event_id.
                log.warning("offset commit failed", error=type(error).__name__)

    def _decode(self, messages: Sequence[Any]) -> list[Event]:
        events: list[Event] = []
        for message in messages:
            parsed = parse(message.value or b"")
            if isinstance(parsed, Undecodable):
                if parsed.reason == "unknown_type":
                    self.metrics.events.labels("unknown_type").inc()
                else:
                    self.metrics.poison.labels(parsed.reason).inc()
                    log.warning(
                        "poison message skipped",
                        reason=parsed.reason,
                        detail=parsed.detail,
                        partition=message.partition,
                        offset=message.offset,
                    )
                continue
            events.append(parsed)
        return events

    async def _apply_until_done(self, events: list[Event]) -> None:
        delay = 0.1
        while True:
            try:
                await self._apply(events, one_by_one=False)
                break
            except DOWN as error:
                if not self.paused:
                    log.warning("database unavailable: consumer paused", error=type(error).__name__)
                self.paused = True
                await asyncio.sleep(delay)
                delay = min(BACKOFF_MAX, delay * 2)
            except asyncpg.PostgresError as error:
                # A statement the database refuses (bad text, out-of-range value): find the
                # event(s) at fault one by one, skip them as poison, keep the rest.
                log.warning("batch refused; applying event by event", error=type(error).__name__)
                await self._apply(events, one_by_one=True)
                break
        if self.paused:
            log.info("database back: consumer resumed")
            self.paused = False

    async def _apply(self, events: list[Event], *, one_by_one: bool) -> None:
        removed: list[str] = []
        counts = {"applied": 0, "duplicate": 0, "refused": 0}
        metrics = self.metrics
        async with self.pool.acquire(timeout=5) as conn, metrics.changing(conn) as change:
            writes = ScheduleSql(conn)
            fresh = await writes.first_seen([e.event_id for e in events])
            for event in events:
                if event.event_id not in fresh:
                    counts["duplicate"] += 1
                    continue
                fresh.discard(event.event_id)
                if not one_by_one:
                    removed += await self.scheduler.apply(writes, event)
                    counts["applied"] += 1
                    continue
                try:
                    async with conn.transaction():
                        removed += await self.scheduler.apply(writes, event)
                    counts["applied"] += 1
                except DOWN:
                    raise
                except asyncpg.PostgresError as error:
                    counts["refused"] += 1
                    log.warning(
                        "event refused by the database, skipped",
                        event_id=str(event.event_id),
                        type=event.type,
                        error=type(error).__name__,
                    )
            change.unqueued += removed
        # Counted once committed, so a batch retried after an outage is not counted twice.
        self.metrics.events.labels("applied").inc(counts["applied"])
        self.metrics.events.labels("duplicate").inc(counts["duplicate"])
        if counts["refused"]:
            self.metrics.poison.labels("refused_by_database").inc(counts["refused"])
