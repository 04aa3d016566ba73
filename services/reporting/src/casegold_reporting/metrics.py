"""Business and projector metrics of the reporting service (SPEC §5): bounded labels, no PII."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from casegold_contracts import CASE_STATUSES, PRIORITIES
from casegold_platform.kafka_lag import ConsumerLag

# Business seconds: 1 min … 30 d, so each SLA target (1 h … 15 d) falls near a bucket edge.
_DURATION_BUCKETS = (
    60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 12 * 3600, 86_400, 2 * 86_400,
    3 * 86_400, 5 * 86_400, 7 * 86_400, 15 * 86_400, 30 * 86_400,
)  # fmt: skip
_OPEN_STATUSES = tuple(status for status in CASE_STATUSES if status != "closed")


@dataclass(frozen=True, slots=True)
class ReportingMetrics:
    """Every metric the service exports besides the HTTP ones."""

    open_cases: Gauge
    first_response: Histogram
    resolution: Histogram
    lag: Gauge
    applied: Counter
    skipped: Counter
    undecodable: Counter
    disagreements: Counter
    batch_seconds: Histogram
    active: Gauge
    consumer_lag: ConsumerLag  # casegold_consumer_lag{topic,partition}, as every consumer

    def set_open_cases(self, counts: Iterable[tuple[str, str, int]]) -> None:
        """Publish the per-(priority, status) counts; every label pair is always present."""
        known = {(priority, status): cases for priority, status, cases in counts}
        for priority in PRIORITIES:
            for status in _OPEN_STATUSES:
                self.open_cases.labels(priority, status).set(known.get((priority, status), 0))


def reporting_metrics(registry: CollectorRegistry) -> ReportingMetrics:
    """Register the metrics on `registry`."""
    return ReportingMetrics(
        open_cases=Gauge(
            "casegold_open_cases", "Cases not closed, by priority and status",
            ["priority", "status"], registry=registry,
        ),
        first_response=Histogram(
            "casegold_first_response_seconds", "Business time from opening to first response",
            buckets=_DURATION_BUCKETS, registry=registry,
        ),
        resolution=Histogram(
            "casegold_resolution_seconds", "Business time of a resolution cycle",
            buckets=_DURATION_BUCKETS, registry=registry,
        ),
        lag=Gauge(
            "casegold_reporting_consumer_lag", "Records on the topic not yet projected",
            ["topic"], registry=registry,
        ),
        applied=Counter(
            "casegold_reporting_events_applied_total", "Case events applied to the projection",
            registry=registry,
        ),
        skipped=Counter(
            "casegold_reporting_records_skipped_total", "Records projected before (redeliveries)",
            registry=registry,
        ),
        undecodable=Counter(
            "casegold_reporting_undecodable_total", "Records that were not events, skipped",
            ["reason"], registry=registry,
        ),
        disagreements=Counter(
            "casegold_reporting_verdict_disagreements_total",
            "Events the worker refused that the projection had applied",
            registry=registry,
        ),
        batch_seconds=Histogram(
            "casegold_reporting_batch_seconds", "Fold and write of one poll's records",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=registry,
        ),
        active=Gauge(
            "casegold_reporting_projector_active", "1 while this process holds the projector lock",
            registry=registry,
        ),
        consumer_lag=ConsumerLag(registry),
    )  # fmt: skip
