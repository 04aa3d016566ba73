"""The policies topic keeps every policy version a case may refer to, without any secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from casegold_escalation.adapters.policies import PolicyStore
from casegold_platform.kafka import TopicSpec, ensure_topics
from casegold_platform.settings import KafkaSettings
from casegold_sla import load_policy_text
from tests.support import repo_root

pytestmark = pytest.mark.integration

SECRET = "s3cret-webhook-key-never-published"


async def topic_values(kafka: KafkaSettings, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        values: list[bytes] = []
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            values += [m.value or b"" for m in batch.get(tp, [])]
        return values
    finally:
        await consumer.stop()


async def test_a_policy_is_published_without_its_recipients_and_loads_under_its_version(
    unique: str, kafka_settings: KafkaSettings
) -> None:
    text = Path(repo_root(), "deploy", "policy", "default.yaml").read_text(encoding="utf-8")
    text = text.replace("dev-only-webhook-secret-change-me", SECRET)
    assert SECRET in text
    policy = load_policy_text(text, "default.yaml")
    topic = f"test.policies.{unique}"
    await ensure_topics(kafka_settings.bootstrap, [TopicSpec(topic, 1)])
    await PolicyStore(kafka_settings, topic, policy, text).publish_current()

    (published,) = await topic_values(kafka_settings, topic)
    assert SECRET.encode() not in published
    assert b"recipients" not in published
    # Another worker, on another file, finds the version the cases were frozen under.
    other = load_policy_text(text.replace("default_priority: P3", "default_priority: P4"), "other")
    reader = PolicyStore(kafka_settings, topic, other, "")
    assert await reader.refresh() == 1
    restored = reader.registry.get(policy.version)
    assert restored.version == policy.version
    assert restored.repeat_rule == policy.repeat_rule
    assert restored.recipients.all() == ()
