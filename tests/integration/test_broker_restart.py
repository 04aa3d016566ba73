"""A broker killed with SIGKILL and started again keeps every acknowledged write and offset."""

from __future__ import annotations

import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from casegold_platform.kafka import TopicSpec, durable_producer, ensure_topics
from casegold_platform.settings import KafkaSettings
from tests.integration.test_kafka_roundtrip import consume
from tests.support.brokers import ScratchBroker

pytestmark = pytest.mark.integration


async def test_sigkill_and_restart_keeps_acknowledged_writes_and_offsets(
    scratch_broker: ScratchBroker, unique: str
) -> None:
    settings = KafkaSettings(bootstrap=scratch_broker.bootstrap)
    topic = f"test.durable.{unique}"
    group = f"group-{unique}"
    await ensure_topics(settings.bootstrap, [TopicSpec(topic, partitions=2)])
    producer = durable_producer(settings)
    await producer.start()
    try:
        for i in range(200):
            await producer.send_and_wait(topic, key=f"k{i % 7}".encode(), value=f"v{i}".encode())
    finally:
        await producer.stop()
    first = await consume(settings.bootstrap, topic, group, 120, timeout=30)
    assert len(first) >= 120

    scratch_broker.kill_hard()
    scratch_broker.start()

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap, group_id=group, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        committed = [await consumer.committed(TopicPartition(topic, p)) for p in (0, 1)]
        consumer.assign([TopicPartition(topic, p) for p in (0, 1)])
        await consumer.seek_to_beginning()
        everything: list[bytes] = []
        deadline = time.monotonic() + 30
        while len(everything) < 200:
            assert time.monotonic() < deadline, f"only {len(everything)} of 200 survived"
            batch = await consumer.getmany(timeout_ms=500)
            everything.extend(m.value for messages in batch.values() for m in messages if m.value)
    finally:
        await consumer.stop()
    assert sorted(everything) == sorted(f"v{i}".encode() for i in range(200))
    assert sum(c or 0 for c in committed) == len(first)
