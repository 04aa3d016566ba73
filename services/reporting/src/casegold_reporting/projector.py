"""The projector transport: read both topics from the stored offsets, fold, write, repeat.

Offsets live in PostgreSQL with the rows (the Kafka group offset is not used), so the
consumer assigns every partition itself; one projector per database runs at a time, held
by an advisory lock, and other replicas wait on it as standbys.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from uuid import UUID

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from casegold_reporting.adapters import postgres
from casegold_reporting.metrics import ReportingMetrics
from casegold_reporting.projection import Record, case_ids, decode, fold
from casegold_reporting.rows import Batch, CaseRow
from casegold_sla import PolicyRegistry, PolicySet

# Advisory locks are per database, not per schema: the key names the projection's schema, so
# projections in other schemas of one database (tests, benchmarks) never wait on each other.
_LOCK: Final = (
    "SELECT pg_try_advisory_lock(hashtext('casegold-reporting:' || current_schema()), $1)"
)
_RESTART_DELAY: Final = 1.0
_log = structlog.get_logger("casegold.reporting.projector")


@dataclass(frozen=True, slots=True)
class ProjectorConfig:
    """What the projector reads and how."""

    dsn: str
    bootstrap: str
    topics: tuple[str, ...]
    max_records: int
    timeout_ms: int
    cache_cases: int
    standby_retry_seconds: float
    # This projector takes the partitions whose number % shards == shard (a case's events and
    # escalations share its partition number), so shards never touch the same case.
    shard: int = 0
    shards: int = 1


class StateCache:
    """The most recently touched case rows, so a busy case is not read back for every batch."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._rows: OrderedDict[UUID, CaseRow] = OrderedDict()

    def get_many(self, ids: Iterable[UUID]) -> tuple[dict[UUID, CaseRow], list[UUID]]:
        found, missing = {}, []
        for case_id in ids:
            row = self._rows.get(case_id)
            if row is None:
                missing.append(case_id)
            else:
                found[case_id] = row
                self._rows.move_to_end(case_id)
        return found, missing

    def put_many(self, rows: Iterable[CaseRow]) -> None:
        for row in rows:
            self._rows[row.case_id] = row
            self._rows.move_to_end(row.case_id)
        while len(self._rows) > self.capacity:
            self._rows.popitem(last=False)


class Projector:
    """Runs the projection until stopped; restarts from the stored offsets after a failure."""

    def __init__(
        self, config: ProjectorConfig, policies: PolicySet, policy_text: str,
        metrics: ReportingMetrics,
    ) -> None:  # fmt: skip
        self.config = config
        self.policies = policies
        self.policy_text = policy_text
        self.metrics = metrics
        self.connected = False
        self.batches = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Project until `stop` is set."""
        while not stop.is_set():
            try:
                await self._run_once(stop)
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("projector_failed", restart_in_seconds=_RESTART_DELAY)
                self.connected = False
                self.metrics.active.set(0)
                await _wait(stop, _RESTART_DELAY)

    async def _run_once(self, stop: asyncio.Event) -> None:
        connection = await asyncpg.connect(self.config.dsn)
        try:
            while not await connection.fetchval(_LOCK, self.config.shard):
                self.connected = True  # a standby is ready: another replica projects
                if await _wait(stop, self.config.standby_retry_seconds):
                    return
            self.metrics.active.set(1)
            # Each batch commits its offsets with its rows: a tail lost in a crash of
            # PostgreSQL is read and projected again, so no commit waits for the WAL flush.
            await connection.execute("SET synchronous_commit = off")
            await postgres.prepare(connection)
            await postgres.remember_policy(connection, self.policies, self.policy_text)
            registry = await postgres.policy_registry(connection, self.policies)
            await self._consume(connection, registry, stop)
        finally:
            self.metrics.active.set(0)
            self.connected = False
            await connection.close()

    async def _consume(
        self, connection: asyncpg.Connection, registry: PolicyRegistry, stop: asyncio.Event
    ) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.config.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await consumer.start()
        try:
            partitions = await _assign(consumer, connection, self.config)
            self.connected = True
            _log.info("projector_started", partitions=len(partitions))
            cache = StateCache(self.config.cache_cases)
            # Batch N is written while batch N + 1 is decoded and folded: Python and PostgreSQL
            # work at once. Rows are read on a second connection; batches commit in order.
            reader = await asyncpg.connect(self.config.dsn)
            writing: asyncio.Task[None] | None = None
            try:
                while not stop.is_set():
                    fetched = await consumer.getmany(
                        timeout_ms=self.config.timeout_ms, max_records=self.config.max_records
                    )
                    records = [
                        Record(tp.topic, tp.partition, message.offset, message.value)
                        for tp, messages in fetched.items()
                        for message in messages
                    ]
                    if records:
                        started = time.perf_counter()
                        batch = await self._fold(reader, registry, cache, records)
                        if writing is not None:
                            await writing
                        writing = asyncio.create_task(self._write(connection, batch, started))
                    await self._publish_lag(consumer, partitions)
                if writing is not None:
                    await writing
            finally:
                if writing is not None and not writing.done():
                    writing.cancel()
                    await asyncio.gather(writing, return_exceptions=True)
                await reader.close()
        finally:
            await consumer.stop()

    async def _fold(
        self, reader: asyncpg.Connection, registry: PolicyRegistry, cache: StateCache,
        records: list[Record],
    ) -> Batch:  # fmt: skip
        decoded = decode(records)
        known, missing = cache.get_many(case_ids(decoded))
        if missing:
            known.update(await postgres.load_rows(reader, missing, registry))
        batch = fold(decoded, known, self.policies)
        # Cached before the write commits: a failed write ends this consumer and its cache.
        cache.put_many(batch.cases.values())
        return batch

    async def _write(self, connection: asyncpg.Connection, batch: Batch, started: float) -> None:
        disagreements = await postgres.write(connection, batch)
        self.batches += 1
        self._observe(batch, disagreements, time.perf_counter() - started)

    def _observe(self, batch: Batch, disagreements: int, seconds: float) -> None:
        metrics = self.metrics
        metrics.batch_seconds.observe(seconds)
        metrics.applied.inc(batch.applied)
        metrics.skipped.inc(batch.skipped)
        for reason, count in batch.undecodable.items():
            metrics.undecodable.labels(reason).inc(count)
            _log.warning("record_skipped", reason=reason, count=count)
        for value in batch.first_responses:
            metrics.first_response.observe(value)
        for value in batch.resolutions:
            metrics.resolution.observe(value)
        if disagreements:
            metrics.disagreements.inc(disagreements)
            _log.warning("worker_refused_an_applied_event", count=disagreements)

    async def _publish_lag(
        self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
    ) -> None:
        lag: dict[str, int] = {}
        for tp in partitions:
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            behind = max(0, highwater - await consumer.position(tp))
            lag[tp.topic] = lag.get(tp.topic, 0) + behind
        for topic, behind in lag.items():
            self.metrics.lag.labels(topic).set(behind)
        await self.metrics.consumer_lag.update(consumer, partitions)


async def _assign(
    consumer: AIOKafkaConsumer, connection: asyncpg.Connection, config: ProjectorConfig
) -> list[TopicPartition]:
    stored = await postgres.load_offsets(connection, config.topics)
    partitions = []
    for topic in config.topics:
        numbers = await _partitions_of(consumer, topic)
        partitions += [
            TopicPartition(topic, number)
            for number in sorted(numbers)
            if number % config.shards == config.shard
        ]
    consumer.assign(partitions)
    for tp in partitions:
        offset = stored.get((tp.topic, tp.partition))
        if offset is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, offset)
    return partitions


async def _partitions_of(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(50):
        numbers = consumer.partitions_for_topic(topic)
        if numbers:
            return set(numbers)
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.1)
    raise RuntimeError(f"topic {topic} does not exist")


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds`; True if stopped meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
