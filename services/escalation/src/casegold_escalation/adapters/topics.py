"""Every topic the worker needs, created and led before its agents start.

Faust creates its changelogs itself on first use, but on a freshly formatted broker that races
with the agents: a changelog that is not there yet (or has 0 partitions in the metadata the
worker read) fails every message with PartitionsMismatch. Creating them here, and waiting until
each partition has a leader, removes the race.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient

from casegold_platform import kafka as kafka_admin
from casegold_platform.kafka import BrokerUnavailable, TopicSpec


async def ensure_led_topics(bootstrap: str, specs: Iterable[TopicSpec], timeout: float) -> None:
    """Create the missing topics, then wait until every partition of each has a leader."""
    specs = list(specs)
    await kafka_admin.ensure_topics(bootstrap, specs)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            described = await admin.describe_topics([s.name for s in specs])
            waiting = _not_led(specs, described)
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise BrokerUnavailable(f"topics without a leader after {timeout}s: {waiting}")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


def _not_led(specs: list[TopicSpec], described: list[dict[str, object]]) -> list[str]:
    by_name = {str(t["topic"]): t for t in described}
    waiting = []
    for spec in specs:
        topic = by_name.get(spec.name)
        partitions: list[dict[str, int]] = list(topic["partitions"]) if topic else []  # type: ignore[call-overload]
        if (
            topic is None
            or topic["error_code"] != 0
            or len(partitions) != spec.partitions
            or any(p["leader"] < 0 for p in partitions)
        ):
            waiting.append(spec.name)
    return waiting
