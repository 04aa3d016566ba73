"""What the demo watches while it runs: escalations on Kafka and notices at the sink."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from casegold_contracts import ESCALATIONS, EscalationRaised, parse
from casegold_platform.settings import KafkaSettings
from tools.demo.stack import StackNotReady


class EscalationWatch:
    """Reads complaints.escalations from its end when started (no group: nothing committed)."""

    def __init__(self, kafka: KafkaSettings, topic: str = ESCALATIONS) -> None:
        self.kafka, self.topic = kafka, topic
        self.raised: list[EscalationRaised] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect and position at the topic's end, before the first case opens."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap,
            enable_auto_commit=False,
            request_timeout_ms=self.kafka.request_timeout_ms * 3,
        )
        await asyncio.wait_for(consumer.start(), timeout=15)
        if self.topic not in await consumer.topics():
            await consumer.stop()
            raise StackNotReady(f"topic {self.topic} does not exist: run `make up` first")
        # Every Casegold topic has the configured partition count (casegold_platform topics).
        assigned = [TopicPartition(self.topic, p) for p in range(self.kafka.partitions)]
        consumer.assign(assigned)
        for tp, offset in (await consumer.end_offsets(assigned)).items():
            consumer.seek(tp, offset)
        self._consumer = consumer
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    event = parse(record.value or b"")
                    if isinstance(event, EscalationRaised):
                        self.raised.append(event)

    def of(self, cases: set[str]) -> list[EscalationRaised]:
        """The escalations raised so far for these cases."""
        return [e for e in self.raised if str(e.case_id) in cases]

    async def stop(self) -> None:
        """Stop reading and disconnect."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()


async def sink_notices(client: httpx.AsyncClient, sink_url: str) -> list[dict[str, Any]]:
    """Every notice the sink holds; empty when it does not answer."""
    try:
        response = await client.get(f"{sink_url}/notices", timeout=5)
    except httpx.HTTPError:
        return []
    if response.status_code != 200:
        return []
    notices: list[dict[str, Any]] = response.json()
    return notices
