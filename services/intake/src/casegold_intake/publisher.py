"""Kafka publisher: acks=all and idempotent, every send bounded, a broken producer replaced.

aiokafka never expires a batch of an idempotent producer: with the broker gone, a send waits
until the broker returns, however long. So each publish is bounded here, and on any failure
the producer is retired — its queued batches are dropped, so a request answered 503 can not
reach the topic later (only one already on the wire might; its retry re-makes the same event
id) — and a fresh producer (new producer id, sequence numbers from zero) is started on
the next publish. The same replacement recovers from the fatal OutOfOrderSequenceNumber after a
short broker outage (aio-libs/aiokafka#1017), which otherwise stops a producer for good.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Final

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from casegold_intake.ports import PublishUnavailable

log = structlog.get_logger("casegold_intake")

# After a failed connection attempt, publishes fail fast for this long instead of each
# waiting for its own attempt: a down broker costs one attempt, not one per request.
RESTART_BACKOFF: Final = 0.5
READY_TIMEOUT: Final = 1.0
STOP_TIMEOUT: Final = 10.0


def _consume(future: asyncio.Future[Any]) -> None:
    # A delivery nobody awaits any more (the request timed out) must not log "never retrieved".
    if not future.cancelled():
        future.exception()


class KafkaPublisher:
    """Publishes to one topic through a replaceable AIOKafkaProducer."""

    def __init__(
        self,
        factory: Callable[[], AIOKafkaProducer],
        topic: str,
        send_timeout: float,
        on_retire: Callable[[str], None] | None = None,
    ) -> None:
        self._factory = factory
        self.topic = topic
        self.send_timeout = send_timeout
        self._on_retire = on_retire
        self._producer: AIOKafkaProducer | None = None
        self._starting: asyncio.Task[AIOKafkaProducer] | None = None
        self._failed_at = -RESTART_BACKOFF
        self._retiring: set[asyncio.Task[None]] = set()
        self._closed = False

    async def start(self, timeout: float) -> bool:
        """Connect now if the broker answers within `timeout`; later publishes retry anyway."""
        try:
            await asyncio.wait_for(self._current(), timeout)
        except (TimeoutError, PublishUnavailable):
            log.warning("kafka not reachable at start-up; will retry on demand")
            return False
        return True

    async def publish(self, key: bytes, value: bytes) -> None:
        """Return once the broker acknowledged the write (acks=all); else PublishUnavailable."""
        producer = self._producer
        try:
            # One deadline for connecting, queueing and the broker's acknowledgement.
            async with asyncio.timeout(self.send_timeout):
                if producer is None or not self._healthy(producer):
                    producer = await self._current()
                # Cancelling send() (on timeout) withdraws the message; it is not queued then.
                delivery = await producer.send(self.topic, value, key=key)
                delivery.add_done_callback(_consume)
                # Shielded: cancelling the delivery future would not stop the batch anyway.
                await asyncio.shield(delivery)
        except (TimeoutError, KafkaError) as error:
            reason = "timeout" if isinstance(error, TimeoutError) else type(error).__name__
            if producer is not None:
                self._retire(producer, reason)
            raise PublishUnavailable(f"Kafka did not acknowledge: {reason}") from error
        except asyncio.CancelledError:
            # Cut short by the request's deadline (or shutdown): what it queued must not
            # reach the topic after the client was told 503.
            if producer is not None:
                self._retire(producer, "cancelled")
            raise

    async def ready(self) -> bool:
        """Whether a healthy producer is connected to at least one broker."""
        try:
            producer = await asyncio.wait_for(self._current(), READY_TIMEOUT)
            brokers = producer.client.cluster.brokers()
            for broker in brokers:
                if await asyncio.wait_for(producer.client.ready(broker.nodeId), READY_TIMEOUT):
                    return True
        except (TimeoutError, PublishUnavailable, KafkaError, OSError):
            return False
        return False

    async def close(self, timeout: float = STOP_TIMEOUT) -> None:
        """Flush what was sent (bounded) and close every producer."""
        self._closed = True
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await asyncio.wait_for(producer.stop(), timeout)
            except (TimeoutError, KafkaError) as error:
                log.warning("producer did not flush in time", error=type(error).__name__)
                await self._abandon(producer, "shutdown")
        if self._retiring:
            await asyncio.wait(self._retiring, timeout=timeout)

    async def _current(self) -> AIOKafkaProducer:
        if self._closed:
            raise PublishUnavailable("publisher closed")
        producer = self._producer
        if producer is not None:
            if self._healthy(producer):
                return producer
            self._retire(producer, "sender stopped")
        if self._starting is None or self._starting.done():
            if asyncio.get_running_loop().time() - self._failed_at < RESTART_BACKOFF:
                raise PublishUnavailable("Kafka unreachable (retrying shortly)")
            self._starting = asyncio.create_task(self._start_new())
            self._starting.add_done_callback(_consume)
        try:
            return await asyncio.shield(self._starting)
        except (KafkaError, OSError) as error:
            raise PublishUnavailable(f"cannot connect to Kafka: {type(error).__name__}") from error

    async def _start_new(self) -> AIOKafkaProducer:
        producer = self._factory()
        try:
            await producer.start()
        except BaseException:
            self._failed_at = asyncio.get_running_loop().time()
            await self._abandon(producer, "start failed")
            raise
        self._producer = producer
        sender_task = producer._sender.sender_task
        if sender_task is not None:
            sender_task.add_done_callback(self._sender_finished)
        log.info("kafka producer connected", topic=self.topic)
        return producer

    @staticmethod
    def _sender_finished(task: asyncio.Task[None]) -> None:
        # The producer is unusable from here on; the next publish or readiness check replaces it.
        error = None if task.cancelled() else task.exception()
        if error is not None:
            log.warning("kafka producer's sender stopped", error=repr(error))

    @staticmethod
    def _healthy(producer: AIOKafkaProducer) -> bool:
        # aiokafka has no public health flag: a finished sender task (e.g. after a fatal
        # OutOfOrderSequenceNumber) means nothing will ever be sent by this producer again.
        task = producer._sender.sender_task
        return task is not None and not task.done()

    def _retire(self, producer: AIOKafkaProducer, reason: str) -> None:
        if producer is not self._producer:
            return  # another request already retired it
        self._producer = None
        log.warning("kafka producer retired; a new one starts on the next publish", reason=reason)
        if self._on_retire is not None:
            self._on_retire(reason)
        task = asyncio.create_task(self._abandon(producer, reason))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    @staticmethod
    async def _abandon(producer: AIOKafkaProducer, reason: str) -> None:
        """Stop a producer without delivering what it still holds.

        Its sender is cancelled first (requests already on the wire settle), then it is closed:
        with the sender gone, `stop()` does not wait for a flush, and queued batches are never
        sent. Their callers are already past, or close to, their own deadline.
        """
        sender_task = producer._sender.sender_task  # aiokafka has no public "abort"
        try:
            if sender_task is not None and not sender_task.done():
                sender_task.cancel()
                await asyncio.wait([sender_task], timeout=STOP_TIMEOUT)
            await asyncio.wait_for(producer.stop(), STOP_TIMEOUT)
        except Exception as error:
            log.warning(
                "retired producer did not close cleanly", error=type(error).__name__, reason=reason
            )
            with contextlib.suppress(Exception):
                await producer.client.close()
