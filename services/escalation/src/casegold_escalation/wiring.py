"""The worker put together: topics prepared, the app's agents, timer and views attached."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from casegold_contracts import CASE_EVENTS, ESCALATIONS
from casegold_escalation import agents, fetch, timers
from casegold_escalation.adapters.case_store import TableCaseStore
from casegold_escalation.adapters.policies import PolicyStore
from casegold_escalation.adapters.producer import FaustSender
from casegold_escalation.adapters.recent import RecentlySent
from casegold_escalation.adapters.topics import ensure_led_topics
from casegold_escalation.app import Worker, make_app, make_table
from casegold_escalation.processor import CaseProcessor, Topics
from casegold_escalation.settings import EscalationSettings
from casegold_escalation.stall import StallWatch
from casegold_escalation.views import install_views
from casegold_platform import kafka as kafka_admin
from casegold_platform.clock import Clock, utc_now
from casegold_platform.kafka import TopicSpec
from casegold_platform.settings import KafkaSettings
from casegold_platform.topics import platform_topics

# The worker's tables; Faust names each one's changelog topic `<app id>-<table>-changelog`.
TABLES = ("cases", "customer-cases")


def internal_topics(settings: EscalationSettings, kafka: KafkaSettings) -> list[TopicSpec]:
    """The worker's own topics: ticks, customers and changelogs co-partitioned with the events."""
    short = (("retention.ms", str(7 * 24 * 3600 * 1000)),)
    compact = (("cleanup.policy", "compact"),)
    n, replicas = kafka.partitions, kafka.replication_factor
    return [
        TopicSpec(settings.ticks_topic, n, replicas, short),
        TopicSpec(settings.customers_topic, n, replicas, short),
        TopicSpec(settings.policies_topic, 1, replicas, compact),
        *(TopicSpec(f"{settings.app_id}-{t}-changelog", n, replicas, compact) for t in TABLES),
    ]


def topics_of(settings: EscalationSettings) -> Topics:
    """Where the processor's records go."""
    return Topics(
        customers=settings.customers_topic,
        case_events=settings.case_events_topic,
        escalations=settings.escalations_topic,
    )


def needed_topics(settings: EscalationSettings, kafka: KafkaSettings) -> list[TopicSpec]:
    """Every topic the worker reads or writes."""
    contract = {s.name: s for s in platform_topics(kafka)}
    own = [
        replace(contract[CASE_EVENTS], name=settings.case_events_topic),
        replace(contract[ESCALATIONS], name=settings.escalations_topic),
    ]
    return [*own, *internal_topics(settings, kafka)]


async def prepare(settings: EscalationSettings, kafka: KafkaSettings, store: PolicyStore) -> None:
    """Topics exist and are led, the current policy is published, every older version known."""
    await kafka_admin.wait_for_broker(kafka.bootstrap, timeout=60)
    await ensure_led_topics(kafka.bootstrap, needed_topics(settings, kafka), timeout=60)
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
    fetch.install(app, settings.fetch_wait_ms)
    partitions = kafka.partitions
    cases = make_table(app, TABLES[0], settings, partitions)
    customer_cases = make_table(app, TABLES[1], settings, partitions)
    worker = Worker(
        settings=settings,
        policies=policies,
        clock=clock,
        app=app,
        source=app.topic(settings.case_events_topic, settings.ticks_topic, partitions=partitions),
        customer_source=app.topic(settings.customers_topic, partitions=partitions),
        cases=cases,
        customer_cases=customer_cases,
        processor=CaseProcessor(
            policies.registry, topics_of(settings), timedelta(days=settings.closed_retention_days)
        ),
        send=FaustSender(app),
        recent=RecentlySent(kafka, settings.escalations_topic, settings.resend_guard_seconds),
        case_store=TableCaseStore(app, cases),
        customer_store=TableCaseStore(app, customer_cases),
        stalls=StallWatch(settings.stall_seconds),
    )
    worker.feeds = {
        "cases": fetch.add_feed(app, "cases", [settings.case_events_topic, settings.ticks_topic]),
        "customers": fetch.add_feed(app, "customers", [settings.customers_topic]),
    }
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
