"""`casegold_consumer_lag{topic,partition}` of the notifier: records not yet read per partition.

From the consumer's own knowledge (the end its last fetch reported, its position): no broker
round trip. Only assigned partitions have a series.
"""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer

from casegold_notifier import metrics


class LagReporter:
    """Refreshes the gauge at most once a period, from the consumer loop."""

    def __init__(self, consumer: AIOKafkaConsumer, period: float) -> None:
        self.consumer, self.period = consumer, period
        self.shown: set[tuple[str, int]] = set()
        self.refreshed = float("-inf")

    async def maybe_refresh(self) -> None:
        if time.monotonic() - self.refreshed < self.period:
            return
        self.refreshed = time.monotonic()
        await self.refresh()

    async def refresh(self) -> None:
        current: dict[tuple[str, int], int] = {}
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)
            if end is None:
                continue
            try:
                position = await self.consumer.position(tp)
            except Exception:  # revoked or being reset meanwhile: no figure this time
                continue
            current[(tp.topic, tp.partition)] = max(0, end - position)
        for topic, partition in self.shown - current.keys():
            metrics.CONSUMER_LAG.remove(topic, str(partition))
        for (topic, partition), lag in current.items():
            metrics.CONSUMER_LAG.labels(topic, str(partition)).set(lag)
        self.shown = set(current)
