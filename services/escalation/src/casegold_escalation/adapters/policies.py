"""Every policy version a running case may refer to, kept in a compacted topic.

A case freezes its policy when it opens and its stored state names the policy version. The
text of each version is kept in `casegold-escalation.policies` (key = version), so a restarted
worker, or another worker taking over a partition, can load states frozen under older files.
"""

from __future__ import annotations

import asyncio

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from casegold_platform.kafka import durable_producer
from casegold_platform.settings import KafkaSettings
from casegold_sla import PolicyRegistry, PolicySet, load_policy_text
from casegold_sla.policy_loader import PolicyError, without_recipients

log = structlog.get_logger("casegold.escalation")


class PolicyStore:
    """The registry of policy versions, filled from and published to the policies topic."""

    def __init__(
        self, kafka: KafkaSettings, topic: str, current: PolicySet, current_text: str
    ) -> None:
        self.kafka = kafka
        self.topic = topic
        self.registry = PolicyRegistry(current)
        self.current_text = current_text
        self._lock = asyncio.Lock()

    async def publish_current(self) -> None:
        """Record the current file's text, without its recipients (secrets), under its version
        (idempotent: same key, same text)."""
        producer = durable_producer(self.kafka)
        await producer.start()
        try:
            await producer.send_and_wait(
                self.topic,
                key=self.registry.current.version.encode(),
                value=without_recipients(self.current_text).encode("utf-8"),
            )
        finally:
            await producer.stop()

    async def refresh(self) -> int:
        """Read every version from the topic into the registry; returns how many were read."""
        async with self._lock:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.kafka.bootstrap, enable_auto_commit=False
            )
            await consumer.start()
            try:
                partition = TopicPartition(self.topic, 0)
                consumer.assign([partition])
                await consumer.seek_to_beginning(partition)
                end = (await consumer.end_offsets([partition]))[partition]
                count = 0
                while await consumer.position(partition) < end:
                    batch = await consumer.getmany(partition, timeout_ms=1000)
                    for message in batch.get(partition, []):
                        if message.value is None or message.key is None:
                            continue
                        version = message.key.decode()
                        if version != self.registry.current.version:
                            self._add(version, message.value)
                        count += 1
                return count
            finally:
                await consumer.stop()

    def _add(self, version: str, value: bytes) -> None:
        """Load one version; one that cannot be loaded is left out, not fatal to the others
        (a case frozen under it waits, retried, until a good copy is published)."""
        try:
            text = value.decode("utf-8")
            self.registry.add(load_policy_text(text, f"policy {version}", version=version))
        except (UnicodeDecodeError, PolicyError) as error:
            log.error("policy version unreadable on the topic", version=version, error=str(error))
