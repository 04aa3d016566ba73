"""Kafka: the durable publisher of outcome events and the case-events consumer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from casegold_contracts import Event, dump, message_key
from casegold_followup.ports import Unavailable
from casegold_platform.kafka import durable_producer
from casegold_platform.settings import KafkaSettings

log = structlog.get_logger("casegold_followup")


class KafkaPublisher:
    """acks=all, idempotent; every publish bounded; a failed producer is replaced.

    A send that failed or timed out retires the producer (its queued batches are dropped with
    it), so an outcome answered 503 does not reach the topic later by surprise; a retry makes
    the same event ids, which consumers dedupe.
    """

    def __init__(self, kafka: KafkaSettings, topic: str, timeout: float) -> None:
        self.kafka = kafka
        self.topic = topic
        self.timeout = timeout
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def publish(self, events: Sequence[Event]) -> None:
        """Append the events in order (same key, same partition); Unavailable on failure."""
        try:
            producer = await self._current()
            futures = [await producer.send(self.topic, dump(e), key=message_key(e)) for e in events]
            await asyncio.wait_for(asyncio.gather(*futures), self.timeout)
        except (KafkaError, OSError, TimeoutError) as error:
            await self._retire()
            raise Unavailable("kafka", type(error).__name__) from error

    async def ready(self) -> bool:
        """Whether a producer is connected (one is started if none is)."""
        try:
            await self._current()
            return True
        except (KafkaError, OSError, TimeoutError):
            return False

    async def close(self) -> None:
        """Flush and close."""
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(KafkaError, TimeoutError):
                await asyncio.wait_for(producer.stop(), 10)

    async def _current(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = durable_producer(self.kafka, linger_ms=0)
                try:
                    await asyncio.wait_for(producer.start(), self.timeout)
                except BaseException:
                    with contextlib.suppress(Exception):
                        await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def _retire(self) -> None:
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is None:
            return
        log.warning("kafka producer retired; a new one starts on the next publish")
        sender = producer._sender.sender_task  # aiokafka has no public abort
        if sender is not None and not sender.done():
            sender.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 5)


def case_events_consumer(kafka: KafkaSettings, topic: str, group_id: str, **extra: Any) -> Any:
    """The consumer of case events: offsets committed by hand, after the database commit."""
    options: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        # A database outage holds one batch; the group must not give its partitions away
        # meanwhile (they would be redelivered to a replica that cannot write either).
        "max_poll_interval_ms": 600_000,
        "session_timeout_ms": 10_000,
        "heartbeat_interval_ms": 3_000,
    }
    options.update(extra)
    consumer: AIOKafkaConsumer = AIOKafkaConsumer(topic, **options)
    return consumer
