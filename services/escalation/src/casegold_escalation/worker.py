"""The Faust worker: agents, tables, the timer loop and the HTTP views (a thin shell).

- `cases` agent: reads `complaints.case-events` and the internal ticks topic (co-partitioned,
  so a case's events and ticks reach the same partition and the same table shard), applies them
  through `CaseProcessor`, sends what must be sent and waits for the broker's acknowledgement,
  and only then stores the new state. A crash in between resends (same deterministic ids,
  deduplicated downstream) rather than losing a step.
- `customers` agent: counts a customer's cases (repartitioned by customer key) and tells the
  case's partition when the customer is a repeat complainant.
- the timer loop: keeps the due index in step with the assigned partitions and turns due
  entries into ticks. It never writes a table (Faust only allows that inside an agent).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

import faust
import structlog
from faust.web import Request, Response, View
from prometheus_client import generate_latest

from casegold_contracts import CASE_EVENTS, EscalationRaised, Undecodable, parse
from casegold_escalation import metrics
from casegold_escalation.due_index import DueIndex
from casegold_escalation.policies import PolicyStore
from casegold_escalation.processor import CaseProcessor, Message, Outcome, count_customer_case
from casegold_escalation.recent import RecentlySent
from casegold_escalation.records import CustomerCase, Tick, next_check_of
from casegold_escalation.settings import EscalationSettings
from casegold_platform.settings import KafkaSettings
from casegold_sla import StateFormatError, to_us

log = structlog.get_logger("casegold.escalation")

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    """The transport's clock; the processor and the core only ever receive its readings."""
    return datetime.now(UTC)


# How the worker drives Faust (bench/faust_floor.py measures Faust alone with the same values).
FAUST_TUNING: dict[str, Any] = {
    "key_serializer": "raw",
    "value_serializer": "raw",
    "processing_guarantee": "at_least_once",
    "consumer_auto_offset_reset": "earliest",
    "broker_max_poll_records": 2000,
    "stream_buffer_maxsize": 8192,
    "producer_linger_ms": 2,
    "producer_max_batch_size": 256 * 1024,
    "producer_acks": -1,
    "broker_commit_interval": 1.0,
}


class EscalationWorker:
    """One escalation worker process."""

    def __init__(
        self,
        settings: EscalationSettings,
        kafka: KafkaSettings,
        policies: PolicyStore,
        clock: Clock = wall_clock,
    ) -> None:
        self.settings = settings
        self.kafka = kafka
        self.policies = policies
        self.clock = clock
        self.processor = CaseProcessor(policies.registry, settings.customers_topic)
        self.index = DueIndex()
        self.recent = RecentlySent(kafka, settings.resend_guard_seconds)
        self.indexed_partitions: set[int] = set()
        # Partitions revoked since the last index sync: their entries may be stale even if the
        # same partitions come back (another worker may have changed those cases meanwhile).
        self.revoked_since_sync: set[int] = set()
        self.ready = False
        partitions = kafka.partitions
        rocksdb_options = {
            "write_buffer_size": settings.rocksdb_write_buffer_mb * 1024 * 1024,
            "max_write_buffer_number": 2,
            "block_cache_size": settings.rocksdb_block_cache_mb * 1024 * 1024,
            "block_cache_compressed_size": 1024 * 1024,
            "max_open_files": 256,
        }
        self.app = faust.App(
            settings.app_id,
            broker=["kafka://" + server.strip() for server in kafka.bootstrap.split(",")],
            store="rocksdb://",
            datadir=str(settings.worker_dir),
            topic_partitions=partitions,
            topic_replication_factor=kafka.replication_factor,
            table_standby_replicas=0,
            **FAUST_TUNING,
            # A worker killed without leaving the group holds its partitions until the session
            # times out; Faust's default (60 s) alone would break "firing again within 60 s".
            # Heartbeats come from the consumer thread, so a busy event loop does not miss them.
            broker_session_timeout=settings.session_timeout,
            broker_heartbeat_interval=settings.heartbeat_interval,
            web_enabled=True,
            web_bind=settings.host,
            web_port=settings.port,
            web_host=settings.host,
            web_in_thread=False,
        )
        self.source = self.app.topic(CASE_EVENTS, self.settings.ticks_topic, partitions=partitions)
        self.customer_source = self.app.topic(self.settings.customers_topic, partitions=partitions)
        self.cases = self.app.Table(
            "cases",
            partitions=partitions,
            key_type=bytes,
            value_type=bytes,
            options=rocksdb_options,
        )
        self.customer_cases = self.app.Table(
            "customer-cases",
            partitions=partitions,
            key_type=bytes,
            value_type=bytes,
            options=rocksdb_options,
        )
        self.app.agent(self.source, name="cases", concurrency=1)(self._cases_agent)
        self.app.agent(self.customer_source, name="customers", concurrency=1)(self._customers_agent)
        self.app.task(self._timer_loop)
        # mypy cannot match a bound coroutine method to mode's receiver protocol.
        self.app.on_partitions_revoked.connect(cast(Any, self._on_partitions_revoked))
        self._add_views()

    # -- agents -------------------------------------------------------------------------------

    async def _cases_agent(self, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        async for event in stream.events():
            message = event.message
            key = message.key
            if key is None or message.value is None:
                metrics.UNDECODABLE.labels("no_key_or_value").inc()
                continue
            try:
                if message.topic == self.settings.ticks_topic:
                    await self._apply_tick(message.partition, key, message.value)
                else:
                    await self._apply_event(message.partition, key, message.value)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A poison message must not stop the partition: count it, log it, move on.
                metrics.FAILURES.labels("cases").inc()
                log.exception("case message failed", topic=message.topic, offset=message.offset)
            yield None

    async def _apply_event(self, partition: int, key: bytes, value: bytes) -> None:
        parsed = parse(value)
        if isinstance(parsed, Undecodable):
            metrics.UNDECODABLE.labels(parsed.reason).inc()
            log.warning("undecodable case event", reason=parsed.reason, detail=parsed.detail)
            return
        if isinstance(parsed, EscalationRaised):
            metrics.UNDECODABLE.labels("wrong_topic").inc()
            return
        # Decide at the event's own time: while a backlog is replayed, a step must not fire
        # because of how late the worker reads, only because the case really ran late.
        stored = self.cases.get(key)
        outcome = await self._with_policies(
            lambda: self.processor.on_event(stored, parsed, parsed.occurred_at)
        )
        if outcome.rejection is not None:
            metrics.REJECTED.labels(outcome.rejection.reason).inc()
            metrics.EVENTS_REJECTED.inc()
        else:
            metrics.EVENTS_APPLIED.inc()
        await self._commit(partition, key, stored, outcome)

    async def _apply_tick(self, partition: int, key: bytes, value: bytes) -> None:
        Tick.decode(value)  # a malformed tick raises here and is counted as a failure
        stored = self.cases.get(key)
        outcome = await self._with_policies(lambda: self.processor.on_tick(stored, self.clock()))
        await self._commit(partition, key, stored, outcome)

    async def _with_policies(self, step: Callable[[], Outcome]) -> Outcome:
        try:
            return step()
        except StateFormatError:
            # A case frozen under a policy version another worker published after we started.
            await self.policies.refresh()
            return step()

    async def _commit(
        self, partition: int, key: bytes, stored: bytes | None, outcome: Outcome
    ) -> None:
        """Send, wait for the acknowledgements, then store: never the other way round."""
        if any(m.notice_id for m in outcome.messages):
            if not self.recent.loaded(partition):
                await self.recent.load(partition)
            skipped = [
                m
                for m in outcome.messages
                if m.notice_id and self.recent.contains(partition, m.notice_id)
            ]
            if skipped:
                metrics.RESEND_SKIPPED.inc(len(skipped))
                outcome.messages = [m for m in outcome.messages if m not in skipped]
        await self._send_all(outcome.messages)
        fired_at = self.clock()
        for escalation in outcome.escalations:
            metrics.ESCALATIONS.labels(str(escalation.tier), escalation.reason).inc()
            metrics.FIRE_LAG.observe(max(0.0, (fired_at - escalation.due_at).total_seconds()))

            if escalation.breached is not None:
                metrics.BREACHES.labels(escalation.breached, outcome.priority or "unknown").inc()
        if outcome.stored is not None and outcome.stored != stored:
            self.cases[key] = outcome.stored
        self.index.schedule(partition, key, outcome.next_check_us)

    async def _send_all(self, messages: list[Message], wait_all: bool = False) -> None:
        """Send; wait for the acknowledgement of notices only (see `Message`), or of all."""
        if not messages:
            return
        producer = self.app.producer
        acks: list[Awaitable[Any]] = []
        for m in messages:
            future = await producer.send(m.topic, m.key, m.value, None, None, None)
            if wait_all or m.notice_id is not None:
                acks.append(future)
            else:
                cast(asyncio.Future[Any], future).add_done_callback(_report_failed_send)
        if acks:
            await asyncio.gather(*acks)

    async def _customers_agent(self, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        async for event in stream.events():
            key, value = event.message.key, event.message.value
            try:
                if key is not None and value is not None:
                    await self._count_customer_case(key, CustomerCase.decode(value))
            except asyncio.CancelledError:
                raise
            except Exception:
                metrics.FAILURES.labels("customers").inc()
                log.exception("customer message failed", offset=event.message.offset)
            yield None

    async def _count_customer_case(self, key: bytes, case: CustomerCase) -> None:
        rule = self.policies.registry.current.repeat_rule
        record, message = count_customer_case(
            self.customer_cases.get(key), case, rule, self.clock()
        )
        if message is not None:
            # Awaited: the customer's record below must never be stored without it.
            await self._send_all([message], wait_all=True)
        if record is not None:
            self.customer_cases[key] = record

    async def _on_partitions_revoked(
        self, sender: Any, *args: Any, signal: Any = None, **_: Any
    ) -> None:
        revoked: set[Any] = args[0] if args else set()
        self.ready = False
        self.revoked_since_sync.update(tp.partition for tp in revoked if tp.topic == CASE_EVENTS)

    # -- timers -------------------------------------------------------------------------------

    async def _timer_loop(self) -> None:
        """Turn due index entries into ticks, in bounded batches, until the worker stops."""
        interval = self.settings.tick_interval
        while not self.app.should_stop:
            try:
                await self.tick_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                metrics.FAILURES.labels("timer").inc()
                log.exception("timer loop failed")
            await asyncio.sleep(interval)

    async def tick_once(self) -> int:
        """One pass of the timer loop; returns the number of ticks sent."""
        if self.app.rebalancing or getattr(self.app, "in_recovery", False):
            metrics.RECOVERING.set(1)
            self.ready = False
            return 0
        await self._sync_index()
        metrics.RECOVERING.set(0)
        self.ready = True
        now_us = to_us(self.clock())
        retry = int(self.settings.tick_retry * 1_000_000)
        sent = 0
        metrics.TIMERS_PENDING.set(0)
        while True:
            due = self.index.pop_due(now_us, self.settings.tick_batch, retry)
            if not due:
                break
            await self._send_all(
                [
                    Message(self.settings.ticks_topic, key, Tick(_uuid(key), due_us).encode())
                    for _, key, due_us in due
                ]
            )
            sent += len(due)
            metrics.TICKS.inc(len(due))
            metrics.TIMERS_PENDING.set(sent)
            await asyncio.sleep(0)  # let the agents run between batches
        metrics.OPEN_CASES.set(len(self.index))
        return sent

    async def _sync_index(self) -> None:
        """Rebuild the due index for newly assigned partitions; forget revoked ones."""
        assigned = {
            tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == CASE_EVENTS
        }
        revoked = (self.indexed_partitions - assigned) | (
            self.indexed_partitions & self.revoked_since_sync
        )
        self.revoked_since_sync.clear()
        self.indexed_partitions -= revoked
        if revoked:
            self.recent.forget(revoked)
            dropped = self.index.drop_partitions(revoked)
            log.info("due index dropped partitions", partitions=sorted(revoked), cases=dropped)
        added = sorted(assigned - self.indexed_partitions)
        if added:
            metrics.RECOVERING.set(1)
            started = time.monotonic()
            count = 0
            store: Any = self.cases.data
            await self.recent.load_many(added)
            for partition in added:
                db = store._db_for_partition(partition)
                for key, value in store._visible_items(db):
                    self.index.schedule(partition, key, next_check_of(value))
                    count += 1
                    if count % 50_000 == 0:
                        await asyncio.sleep(0)
            elapsed = time.monotonic() - started
            metrics.INDEX_REBUILD.observe(elapsed)
            log.info("due index rebuilt", partitions=added, cases=count, seconds=round(elapsed, 3))
        self.indexed_partitions = assigned

    # -- HTTP ---------------------------------------------------------------------------------

    def _add_views(self) -> None:
        worker = self

        class Health(View):
            async def get(self, request: Request) -> Response:
                return self.json({"status": "ok"})

        class Ready(View):
            async def get(self, request: Request) -> Response:
                body = {
                    "ready": worker.ready,
                    "partitions": sorted(worker.indexed_partitions),
                    "scheduled_cases": len(worker.index),
                }
                return self.json(body, status=200 if worker.ready else 503)

        class Metrics(View):
            async def get(self, request: Request) -> Response:
                return self.bytes(
                    generate_latest(metrics.REGISTRY), content_type="text/plain; version=0.0.4"
                )

        self.app.page("/healthz")(Health)
        self.app.page("/readyz")(Ready)
        self.app.page("/metrics")(Metrics)


def _report_failed_send(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        metrics.FAILURES.labels("send").inc()
        log.error("send failed", error=repr(future.exception()))


def _uuid(key: bytes) -> UUID:
    return UUID(key.decode("ascii"))
