"""Run one escalation worker: `python -m casegold_escalation`."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import faust

from casegold_escalation.policies import PolicyStore
from casegold_escalation.settings import EscalationSettings
from casegold_escalation.worker import EscalationWorker
from casegold_platform import kafka as kafka_admin
from casegold_platform.kafka import TopicSpec
from casegold_platform.logging import configure
from casegold_platform.settings import ConfigError, KafkaSettings, load
from casegold_sla import POLICY_FILE_VARIABLE, PolicyError, load_policy_text


def internal_topics(settings: EscalationSettings, kafka: KafkaSettings) -> list[TopicSpec]:
    """The worker's own topics: ticks and customers co-partitioned with the case events."""
    short = (("retention.ms", str(7 * 24 * 3600 * 1000)),)
    compact = (("cleanup.policy", "compact"),)
    return [
        TopicSpec(settings.ticks_topic, kafka.partitions, kafka.replication_factor, short),
        TopicSpec(settings.customers_topic, kafka.partitions, kafka.replication_factor, short),
        TopicSpec(settings.policies_topic, 1, kafka.replication_factor, compact),
    ]


async def prepare(settings: EscalationSettings, kafka: KafkaSettings, store: PolicyStore) -> None:
    """Topics exist, the current policy is published, and every older version is known."""
    await kafka_admin.wait_for_broker(kafka.bootstrap, timeout=60)
    await kafka_admin.ensure_topics(kafka.bootstrap, internal_topics(settings, kafka))
    await store.publish_current()
    await store.refresh()


def main() -> int:
    """Check the configuration, prepare Kafka, then run the Faust worker until stopped."""
    try:
        settings = load(EscalationSettings)
        kafka = load(KafkaSettings)
        policy_path = Path(os.environ.get(POLICY_FILE_VARIABLE, "deploy/policy/default.yaml"))
        text = policy_path.read_text(encoding="utf-8")
        policy = load_policy_text(text, str(policy_path))
    except (ConfigError, PolicyError, OSError) as error:
        print(f"casegold-escalation: {error}", file=sys.stderr)
        return 2
    log = configure("escalation", settings.log_level)
    store = PolicyStore(kafka, settings.policies_topic, policy, text)
    asyncio.run(prepare(settings, kafka, store))
    log.info(
        "starting",
        worker=settings.worker_name,
        port=settings.port,
        policy=str(policy_path),
        policy_version=policy.version,
        partitions=kafka.partitions,
    )
    settings.worker_dir.mkdir(parents=True, exist_ok=True)
    asyncio.set_event_loop(asyncio.new_event_loop())
    worker = EscalationWorker(settings, kafka, store)
    faust.Worker(
        worker.app, loglevel=settings.log_level.lower(), quiet=True, redirect_stdouts=False
    ).execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main())
