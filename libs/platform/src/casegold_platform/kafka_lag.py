"""casegold_consumer_lag{topic,partition}: records on a partition that a consumer has not read."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError
from prometheus_client import CollectorRegistry, Gauge

NAME = "casegold_consumer_lag"


class ConsumerLag:
    """The lag gauge of one service, set from its consumers' highwater minus position."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.gauge = Gauge(
            NAME,
            "Records on the partition this service has not read yet (highwater - position)",
            ["topic", "partition"],
            registry=registry,
        )
        self._shown: set[tuple[str, str]] = set()

    async def update(
        self, consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition] | None = None
    ) -> None:
        """Set the lag of each partition (by default the consumer's assignment) whose end is known.

        The end is the highwater of the consumer's last fetch, so no broker round trip is made;
        a partition no longer given to the consumer leaves the gauge (another process reports it).
        """
        wanted = consumer.assignment() if partitions is None else set(partitions)
        shown: set[tuple[str, str]] = set()
        for tp in sorted(wanted):
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            # A partition revoked or not yet positioned has no lag to tell: skip it this time.
            with contextlib.suppress(IllegalStateError, TimeoutError):
                position = await asyncio.wait_for(consumer.position(tp), timeout=1.0)
                labels = (tp.topic, str(tp.partition))
                self.gauge.labels(*labels).set(max(0, highwater - position))
                shown.add(labels)
        for labels in self._shown - shown:
            with contextlib.suppress(KeyError):
                self.gauge.remove(*labels)
        self._shown = shown

    async def watch(self, consumer: AIOKafkaConsumer, interval: float = 5.0) -> None:
        """Update from the consumer's assignment every `interval` seconds until cancelled."""
        while True:
            await self.update(consumer)
            await asyncio.sleep(interval)
