"""Intake's own Prometheus metrics: cases opened, replays, refusals, producer replacements.

HTTP request metrics join the same registry through casegold_platform.http. Labels are
bounded: configured vocabularies and fixed outcome names.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
)


class IntakeMetrics:
    """The service's metrics, registered in their own registry (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.cases_opened = Counter(
            "casegold_cases_opened_total",
            "Cases opened (durable in Kafka), by channel, category and priority",
            ["channel", "category", "priority"],
            registry=self.registry,
        )
        self.replays = Counter(
            "casegold_intake_idempotent_replays_total",
            "Requests answered from a remembered Idempotency-Key, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.unavailable = Counter(
            "casegold_intake_unavailable_total",
            "Requests answered 503, by the dependency that failed",
            ["dependency"],
            registry=self.registry,
        )
        self.producer_retired = Counter(
            "casegold_intake_producer_retired_total",
            "Kafka producers replaced after a failed or fatal send, by reason",
            ["reason"],
            registry=self.registry,
        )
