"""The Kafka topics Casegold creates, laid out from the settings."""

from __future__ import annotations

from casegold_contracts import topics
from casegold_platform.kafka import TopicSpec
from casegold_platform.settings import KafkaSettings

# Case history is the system of record: keep it (no time-based deletion).
_RETAIN_FOREVER = (("retention.ms", "-1"), ("min.insync.replicas", "1"))


def platform_topics(settings: KafkaSettings) -> list[TopicSpec]:
    """Every topic of SPEC §2, with the configured partition count."""
    return [
        TopicSpec(name, settings.partitions, settings.replication_factor, _RETAIN_FOREVER)
        for name in (topics.CASE_EVENTS, topics.ESCALATIONS)
    ]
