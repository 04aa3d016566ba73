"""The worker put together: topics prepared, the app's agents, timer and views attached."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from casegold_contracts import CASE_EVENTS
from casegold_escalation import agents, timers
from casegold_escalation.adapters.policies import PolicyStore
from casegold_escalation.adapters.producer import FaustSender
from casegold_escalation.adapters.recent import RecentlySent
from casegold_escalation.app import Worker, make_app, make_table
from casegold_escalation.processor import CaseProcessor
from casegold_escalation.settings import EscalationSettings
from casegold_escalation.views import install_views
from casegold_platform import kafka as kafka_admin
from casegold_platform.clock import Clock, utc_now
from casegold_platform.kafka import TopicSpec
from casegold_platform.settings import KafkaSettings


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


def build_worker(
    settings: EscalationSettings,
    kafka: KafkaSettings,
    policies: PolicyStore,
    clock: Clock = utc_now,
) -> Worker:
    """One worker: its app, topics and tables, with the agents, the timer and the views."""
    app = make_app(settings, kafka)
    partitions = kafka.partitions
    worker = Worker(
        settings=settings,
        policies=policies,
        clock=clock,
        app=app,
        source=app.topic(CASE_EVENTS, settings.ticks_topic, partitions=partitions),
        customer_source=app.topic(settings.customers_topic, partitions=partitions),
        cases=make_table(app, "cases", settings, partitions),
        customer_cases=make_table(app, "customer-cases", settings, partitions),
        processor=CaseProcessor(policies.registry, settings.customers_topic),
        send=FaustSender(app),
        recent=RecentlySent(kafka, settings.resend_guard_seconds),
    )
    app.agent(worker.source, name="cases", concurrency=1)(_bound(agents.cases_agent, worker))
    app.agent(worker.customer_source, name="customers", concurrency=1)(
        _bound(agents.customers_agent, worker)
    )
    app.task(functools.partial(timers.timer_loop, worker))
    app.on_partitions_revoked.connect(functools.partial(timers.on_partitions_revoked, worker))
    install_views(worker)
    return worker


def _bound(function: Callable[..., Any], worker: Worker) -> Any:
    # Faust names an agent's actors after its function: keep the module-level function's name.
    bound: Any = functools.partial(function, worker)
    bound.__module__, bound.__qualname__ = function.__module__, function.__qualname__
    return bound
