"""Prometheus metrics of the notifier (labels bounded: never a case id, recipient or address)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

NOTIFICATIONS = Counter(
    "casegold_notifications_total",
    "Notice outcomes by channel: delivered, failed (a retry follows), dead, held (quiet hours), "
    "unrouted (no recipient configured for the audience and step; channel none).",
    ["channel", "status"],
    registry=REGISTRY,
)
DELIVERY_LATENCY = Histogram(
    "casegold_notification_delivery_seconds",
    "Seconds from the step firing (fired_at) to the receiver accepting the notice; mode is "
    "immediate, or digest for notices held through quiet hours.",
    ["channel", "mode"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 12 * 3600),
    registry=REGISTRY,
)
ATTEMPT_SECONDS = Histogram(
    "casegold_notification_attempt_seconds",
    "Duration of one delivery attempt, whatever its outcome.",
    ["channel"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "casegold_notification_dead_lettered_total",
    "Deliveries that became dead (attempts exhausted, permanent failure, stale or unknown "
    "recipient) in this process.",
    ["channel"],
    registry=REGISTRY,
)
DEAD_LETTERS_STORED = Gauge(
    "casegold_notification_dead_letters",
    "Dead rows in the delivery log (all processes), refreshed every few seconds.",
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(
    "casegold_notifications_in_flight",
    "Delivery attempts running in this process.",
    registry=REGISTRY,
)
MESSAGES = Counter(
    "casegold_notifier_messages_total",
    "Messages read from complaints.escalations: recorded, unrecordable (dead-lettered alone), "
    "or skipped with the reason "
    "(malformed_json, unknown_type, invalid, …, other_type for a decodable non-escalation).",
    ["outcome"],
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "casegold_consumer_lag",
    "Records on an assigned partition of complaints.escalations not yet read.",
    ["topic", "partition"],
    registry=REGISTRY,
)
RECORD_FAILURES = Counter(
    "casegold_notifier_record_failures_total",
    "Batches whose deliveries could not be written to PostgreSQL (retried; offsets wait).",
    registry=REGISTRY,
)
