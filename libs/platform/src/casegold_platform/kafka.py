"""Kafka plumbing shared by the services: readiness, topic creation and a durable producer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from casegold_platform.settings import KafkaSettings

TOPIC_ALREADY_EXISTS = 36


class BrokerUnavailable(Exception):
    """No broker answered a metadata request before the deadline."""


class TopicLayoutError(Exception):
    """A topic exists with a layout other than the configured one."""


@dataclass(frozen=True)
class TopicSpec:
    """A topic the platform owns, with its partition count and configs."""

    name: str
    partitions: int
    replication_factor: int = 1
    configs: tuple[tuple[str, str], ...] = ()


async def wait_for_broker(bootstrap: str, timeout: float) -> dict[str, Any]:
    """Return the cluster description once a broker answers a metadata request."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BrokerUnavailable(f"no Kafka broker answered on {bootstrap}: {last_error}")
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=max(500, int(min(remaining, 5) * 1000))
        )
        try:
            await asyncio.wait_for(admin.start(), timeout=min(remaining, 5))
            cluster: dict[str, Any] = await asyncio.wait_for(
                admin.describe_cluster(), timeout=min(remaining, 5)
            )
            if cluster.get("brokers"):
                return cluster
            last_error = RuntimeError("metadata lists no broker yet")
        except (KafkaError, OSError, TimeoutError) as exc:
            last_error = exc
        finally:
            await admin.close()
        await asyncio.sleep(min(0.25, max(0.0, deadline - time.monotonic())))


async def ensure_topics(bootstrap: str, specs: Iterable[TopicSpec]) -> list[str]:
    """Create the missing topics and set the configs of the others where they differ; refuse a
    topic whose partition count differs. Returns the topics created."""
    specs = list(specs)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        described = {t["topic"]: t for t in await admin.describe_topics([s.name for s in specs])}
        missing = []
        for spec in specs:
            existing = described.get(spec.name)
            if existing is None or existing["error_code"] != 0:
                missing.append(spec)
            elif len(existing["partitions"]) != spec.partitions:
                raise TopicLayoutError(
                    f"topic {spec.name} has {len(existing['partitions'])} partitions, "
                    f"configured {spec.partitions}; changing it would move keys between "
                    "partitions: recreate the topic or set CASEGOLD_KAFKA_PARTITIONS to match"
                )
        await _align_configs(admin, [s for s in specs if s not in missing and s.configs])
        if not missing:
            return []
        response = await admin.create_topics(
            [
                NewTopic(s.name, s.partitions, s.replication_factor, topic_configs=dict(s.configs))
                for s in missing
            ],
            timeout_ms=10_000,
        )
        for name, code, *rest in response.topic_errors:
            if code not in (0, TOPIC_ALREADY_EXISTS):
                message = rest[0] if rest else ""
                raise TopicLayoutError(f"could not create topic {name}: error {code} {message}")
        return [s.name for s in missing]
    finally:
        await admin.close()


async def _align_configs(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> None:
    """Set an existing topic's configs to its spec's where any differs (a topic created by an
    earlier version, e.g. before case events were stamped at append time, decision 0142).
    AlterConfigs replaces the topic's whole set: the platform owns these topics' configs."""
    if not specs:
        return
    resources = [ConfigResource(ConfigResourceType.TOPIC, s.name, dict(s.configs)) for s in specs]
    current: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for _code, _message, _kind, name, entries in response.resources:
            current[name] = {entry[0]: entry[1] for entry in entries}
    stale = [
        ConfigResource(ConfigResourceType.TOPIC, s.name, dict(s.configs))
        for s in specs
        if any(current.get(s.name, {}).get(key) != value for key, value in s.configs)
    ]
    if not stale:
        return
    for response in await admin.alter_configs(stale):
        for code, message, _kind, name in response.resources:
            if code != 0:
                raise TopicLayoutError(f"could not set the configs of topic {name}: {message}")


def durable_producer(settings: KafkaSettings, **overrides: Any) -> AIOKafkaProducer:
    """A producer that acknowledges only writes every in-sync replica has (acks=all, idempotent).

    aiokafka defaults to acks=1 and a 40 s request timeout; both are wrong for a service that
    replies 2xx only once a write is durable, so they are set here for every service.
    """
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap,
        "acks": "all",
        "enable_idempotence": True,
        "request_timeout_ms": settings.request_timeout_ms,
        "linger_ms": 2,
        "max_batch_size": 64 * 1024,
        "compression_type": None,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)
