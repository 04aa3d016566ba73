"""Run one escalation worker: `python -m casegold_escalation`."""

from __future__ import annotations

import asyncio
import sys

import faust

from casegold_escalation.adapters.policies import PolicyStore
from casegold_escalation.settings import EscalationSettings
from casegold_escalation.wiring import build_worker, prepare
from casegold_platform.logging import configure
from casegold_platform.settings import ConfigError, KafkaSettings, PolicySettings, load
from casegold_sla import PolicyError, load_policy_text


def main() -> int:
    """Check the configuration, prepare Kafka, then run the Faust worker until stopped."""
    try:
        settings = load(EscalationSettings)
        kafka = load(KafkaSettings)
        policy_path = load(PolicySettings).policy_file
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
    worker = build_worker(settings, kafka, store)
    worker.tune_gc = settings.tune_gc  # the served process only: tests share one interpreter
    faust.Worker(
        worker.app, loglevel=settings.log_level.lower(), quiet=True, redirect_stdouts=False
    ).execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main())
