"""The local broker is a real Kafka: acks=all writes, consumer groups, committed offsets."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from casegold_platform.kafka import TopicSpec, durable_producer, ensure_topics, wait_for_broker
from casegold_platform.settings import KafkaSettings

pytestmark = pytest.mark.integration


async def consume(
    bootstrap: str, topic: str, group: str, count: int, timeout: float = 30.0
) -> list[tuple[int, bytes | None, bytes | None]]:
    """Read count records as a member of group and commit; fails if they do not all arrive."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[tuple[int, bytes | None, bytes | None]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < count:
            assert time.monotonic() < deadline, f"got {len(records)} of {count} records"
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                records.extend((m.partition, m.key, m.value) for m in messages)
        await consumer.commit()
    finally:
        await consumer.stop()
    return records


async def test_broker_metadata_lists_one_kraft_broker(kafka_settings: KafkaSettings) -> None:
    cluster = await wait_for_broker(kafka_settings.bootstrap, timeout=10)
    assert len(cluster["brokers"]) == 1
    assert cluster["controller_id"] == cluster["brokers"][0]["node_id"]


async def test_platform_topics_exist_with_configured_partitions(
    kafka_settings: KafkaSettings,
) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    from casegold_contracts import topics

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topics.CASE_EVENTS, topics.ESCALATIONS])
    finally:
        await admin.close()
    assert {t["topic"]: len(t["partitions"]) for t in described} == {
        topics.CASE_EVENTS: kafka_settings.partitions,
        topics.ESCALATIONS: kafka_settings.partitions,
    }


async def test_produce_acks_all_then_consume_in_a_group(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    topic = f"test.roundtrip.{unique}"
    await ensure_topics(kafka_settings.bootstrap, [TopicSpec(topic, partitions=3)])
    producer = durable_producer(kafka_settings)
    await producer.start()
    sent = [(f"case-{i % 5}".encode(), f"event-{i}".encode()) for i in range(50)]
    try:
        results = await asyncio.gather(
            *[await producer.send(topic, key=key, value=value) for key, value in sent]
        )
    finally:
        await producer.stop()
    assert all(r.offset >= 0 for r in results)

    received = await consume(kafka_settings.bootstrap, topic, f"group-{unique}", len(sent))
    assert sorted(v for _, _, v in received if v) == sorted(v for _, v in sent)
    # One key always lands on one partition, in the order it was written.
    by_key: dict[bytes, list[bytes]] = {}
    partition_of: dict[bytes, set[int]] = {}
    for partition, key, value in received:
        assert key is not None and value is not None
        by_key.setdefault(key, []).append(value)
        partition_of.setdefault(key, set()).add(partition)
    assert all(len(parts) == 1 for parts in partition_of.values())
    for key, values in by_key.items():
        assert values == [v for k, v in sent if k == key]


async def test_group_resumes_from_committed_offset(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    topic = f"test.commit.{unique}"
    await ensure_topics(kafka_settings.bootstrap, [TopicSpec(topic, partitions=1)])
    producer = durable_producer(kafka_settings)
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic, value=f"m{i}".encode())
    finally:
        await producer.stop()
    group = f"group-{unique}"
    first = await consume(kafka_settings.bootstrap, topic, group, 10)
    assert [v for _, _, v in first] == [f"m{i}".encode() for i in range(10)]

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_settings.bootstrap, group_id=group)
    await consumer.start()
    try:
        committed = await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()
    assert committed == 10


async def test_a_topic_with_another_partition_count_is_refused(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    from casegold_platform.kafka import TopicLayoutError

    topic = f"test.layout.{unique}"
    assert await ensure_topics(kafka_settings.bootstrap, [TopicSpec(topic, 2)]) == [topic]
    assert await ensure_topics(kafka_settings.bootstrap, [TopicSpec(topic, 2)]) == []
    with pytest.raises(TopicLayoutError, match="has 2 partitions, configured 3"):
        await ensure_topics(kafka_settings.bootstrap, [TopicSpec(topic, 3)])


async def test_a_topic_created_with_create_times_is_set_to_append_times(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    # A case-events topic of an earlier version kept the producers' create times (decision 0142).
    topic = f"test.stamps.{unique}"
    stamped = TopicSpec(topic, 1, configs=(("message.timestamp.type", "LogAppendTime"),))
    assert await ensure_topics(kafka_settings.bootstrap, [TopicSpec(topic, 1)]) == [topic]
    assert await ensure_topics(kafka_settings.bootstrap, [stamped]) == []
    producer = durable_producer(kafka_settings)
    await producer.start()
    try:
        # A record sent with an hour-old create time, as a retry after an outage might be.
        sent_at = time.time()
        old = int((sent_at - 3600) * 1000)
        metadata = await (await producer.send(topic, b"late", key=b"k", timestamp_ms=old))
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_settings.bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert record.offset == metadata.offset
    # Stamped by the broker when it appended the record, not by the producer.
    assert record.timestamp_type == 1
    assert record.timestamp >= int(sent_at * 1000) - 1000
