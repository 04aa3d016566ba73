"""casegold_consumer_lag from a real consumer on the real broker."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry

from casegold_platform.kafka import TopicSpec, durable_producer, ensure_topics
from casegold_platform.kafka_lag import NAME, ConsumerLag
from casegold_platform.settings import KafkaSettings

pytestmark = pytest.mark.integration


def lag_of(registry: CollectorRegistry, topic: str, partition: int) -> float | None:
    return registry.get_sample_value(NAME, {"topic": topic, "partition": str(partition)})


async def read(consumer: AIOKafkaConsumer, tp: TopicPartition, count: int) -> None:
    """Read exactly `count` records of one partition."""
    done, deadline = 0, time.monotonic() + 30
    while done < count:
        assert time.monotonic() < deadline, f"{done} of {count} records of {tp} within 30 s"
        batches = await consumer.getmany(tp, timeout_ms=500, max_records=count - done)
        done += sum(len(records) for records in batches.values())


async def test_lag_is_highwater_minus_position_and_leaves_with_the_partition(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    topic = f"test.lag.{unique}"
    await ensure_topics(kafka_settings.bootstrap, [TopicSpec(topic, partitions=2)])
    producer = durable_producer(kafka_settings)
    await producer.start()
    try:
        for _ in range(5):
            await producer.send_and_wait(topic, value=b"x", key=b"k", partition=0)
        await producer.send_and_wait(topic, value=b"x", key=b"k", partition=1)
    finally:
        await producer.stop()
    registry = CollectorRegistry()
    lag = ConsumerLag(registry)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_settings.bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    try:
        zero, one = TopicPartition(topic, 0), TopicPartition(topic, 1)
        consumer.assign([zero, one])
        consumer.seek(zero, 0)
        consumer.seek(one, 0)
        # Two of partition 0's five records read, and partition 1's one record.
        await read(consumer, zero, 2)
        await read(consumer, one, 1)
        await lag.update(consumer)
        assert lag_of(registry, topic, 0) == 3
        assert lag_of(registry, topic, 1) == 0
        # Only partition 0 is this process's now: partition 1 leaves the gauge.
        await lag.update(consumer, [zero])
        assert lag_of(registry, topic, 1) is None
        assert lag_of(registry, topic, 0) == 3
        # The watch loop sees the rest read.
        watching = asyncio.create_task(lag.watch(consumer, interval=0.1))
        try:
            deadline = time.monotonic() + 30
            while lag_of(registry, topic, 0) != 0:
                assert time.monotonic() < deadline, f"lag stayed {lag_of(registry, topic, 0)}"
                await consumer.getmany(zero, timeout_ms=200)
        finally:
            watching.cancel()
    finally:
        await consumer.stop()
