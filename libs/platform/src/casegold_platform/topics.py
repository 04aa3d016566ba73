"""The Kafka topics Casegold creates, laid out from the settings."""

from __future__ import annotations

from casegold_contracts import topics
from casegold_platform.kafka import TopicSpec
from casegold_platform.settings import KafkaSettings

# Case history is the system of record: keep it (no time-based deletion).
_RETAIN_FOREVER = (("retention.ms", "-1"), ("min.insync.replicas", "1"))
# A case event's broker timestamp is when the partition accepted it: timestamps then grow along
# a partition whoever produced, which the worker's hold on due steps relies on (decisions
# 0033, 0142). With producers' create times, intake's two workers and a retry after a broker
# outage interleave older stamps behind newer ones.
_STAMPED_AT_APPEND = (*_RETAIN_FOREVER, ("message.timestamp.type", "LogAppendTime"))


def platform_topics(settings: KafkaSettings) -> list[TopicSpec]:
    """Every topic of SPEC §2, with the configured partition count."""
    return [
        TopicSpec(
            topics.CASE_EVENTS, settings.partitions, settings.replication_factor, _STAMPED_AT_APPEND
        ),
        TopicSpec(
            topics.ESCALATIONS, settings.partitions, settings.replication_factor, _RETAIN_FOREVER
        ),
    ]
