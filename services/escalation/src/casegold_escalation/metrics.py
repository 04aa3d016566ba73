"""Prometheus metrics of the escalation worker (labels bounded: never a case id or phone)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

REGISTRY = CollectorRegistry(auto_describe=True)
# The process's CPU, memory and collections (python_gc_*, process_*), as on the default registry:
# a worker that falls behind shows here whether it is busy or paused.
GCCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
ProcessCollector(registry=REGISTRY)

FIRE_LAG = Histogram(
    "casegold_escalation_fire_lag_seconds",
    "Seconds between a step's due instant and the moment it was sent (fired - due).",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0, 15.0, 60.0, 300.0, 3600.0),
    registry=REGISTRY,
)
ESCALATIONS = Counter(
    "casegold_escalations_total",
    "Escalation steps fired, one per step (not per recipient).",
    ["tier", "reason"],
    registry=REGISTRY,
)
BREACHES = Counter(
    "casegold_sla_breaches_total",
    "Milestones that reached their breach instant (the tier 1 step of an SLA milestone).",
    ["milestone", "priority"],
    registry=REGISTRY,
)
EVENTS = Counter(
    "casegold_escalation_events_total",
    "Case events applied by this worker, by outcome.",
    ["outcome"],
    registry=REGISTRY,
)
REJECTED = Counter(
    "casegold_events_rejected_total",
    "Commands the state machine refused, and records refused at the door (bad_key, key_mismatch).",
    ["reason"],
    registry=REGISTRY,
)
UNDECODABLE = Counter(
    "casegold_escalation_undecodable_total",
    "Messages skipped because they could not be decoded, by reason.",
    ["reason"],
    registry=REGISTRY,
)
FAILURES = Counter(
    "casegold_escalation_failures_total",
    "Messages skipped because processing them raised (poison messages), by stage.",
    ["stage"],
    registry=REGISTRY,
)
RETRIES = Counter(
    "casegold_escalation_retries_total",
    "Message attempts retried because a dependency (broker, policies topic) failed, by stage.",
    ["stage"],
    registry=REGISTRY,
)
RESEEKS = Counter(
    "casegold_escalation_partition_reseeks_total",
    "Partitions sought back because their unread records never reached the agent (stall.py)",
    ["topic"],
    registry=REGISTRY,
)
TICKS = Counter(
    "casegold_escalation_ticks_total", "Ticks sent by the timer loop.", registry=REGISTRY
)
OPEN_CASES = Gauge(
    "casegold_escalation_open_cases",
    "Cases with a running clock in this worker's due index.",
    registry=REGISTRY,
)
TIMERS_PENDING = Gauge(
    "casegold_escalation_timers_pending",
    "Cases whose next check is already due but not yet applied.",
    registry=REGISTRY,
)
TIMERS_HELD = Gauge(
    "casegold_escalation_timers_held",
    "Due cases whose tick waits for case events (or ticks) their partition has not read yet.",
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "casegold_consumer_lag",
    "Records on an assigned partition of a topic the worker reads, not yet processed.",
    ["topic", "partition"],
    registry=REGISTRY,
)
RECOVERING = Gauge(
    "casegold_escalation_recovery_in_progress",
    "1 while tables recover or the due index is rebuilt, else 0.",
    registry=REGISTRY,
)
INDEX_REBUILD = Histogram(
    "casegold_escalation_index_rebuild_seconds",
    "Seconds to rebuild the due index for newly assigned partitions.",
    buckets=(0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
WRITES_PENDING = Gauge(
    "casegold_escalation_writes_pending",
    "Case writes waiting for the acknowledgement of the notices sent before them.",
    registry=REGISTRY,
)
STATE_FLUSHED = Histogram(
    "casegold_escalation_state_flush_writes",
    "Case writes per flush of the write cache (one changelog batch and one RocksDB write).",
    buckets=(1, 10, 100, 500, 1000, 2000, 5000, 10000, 20000),
    registry=REGISTRY,
)
STATE_FLUSH_SECONDS = Histogram(
    "casegold_escalation_state_flush_seconds",
    "Seconds of one flush of a write cache, by phase: its changelog batch sent until "
    "acknowledged (changelog), then RocksDB written and the source records acked (store).",
    ["phase"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
    registry=REGISTRY,
)
WAITED = Counter(
    "casegold_escalation_agent_waits_seconds_total",
    "Seconds an agent's feed waited: for the next fetch (records), for room in a write cache "
    "(state), or behind notices not yet acknowledged (notices); by agent. Counted when the wait "
    "ends: an idle agent's wait for records shows once its next records arrive.",
    ["agent", "on"],
    registry=REGISTRY,
)
FED = Histogram(
    "casegold_escalation_fed_records",
    "Records of one fetch handed to an agent at once (fetch.py), by agent.",
    ["agent"],
    buckets=(1, 10, 100, 500, 1000, 2000, 5000),
    registry=REGISTRY,
)
FORGOTTEN = Counter(
    "casegold_escalation_forgotten_total",
    "Records deleted past the closed-case retention: table case or customer.",
    ["table"],
    registry=REGISTRY,
)
RESEND_SKIPPED = Counter(
    "casegold_escalation_resend_skipped_total",
    "Notices not sent again because a previous owner of the partition had already sent them.",
    registry=REGISTRY,
)

# Children bound once: the agent counts every event, and `labels()` costs a lookup each time.
EVENTS_APPLIED = EVENTS.labels("applied")
EVENTS_REJECTED = EVENTS.labels("rejected")
WAITED_NOTICES = WAITED.labels("cases", "notices")
FLUSH_CHANGELOG = STATE_FLUSH_SECONDS.labels("changelog")
FLUSH_STORE = STATE_FLUSH_SECONDS.labels("store")
