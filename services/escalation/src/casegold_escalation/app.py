"""The worker's Faust app, its topics and tables, and what its agents, timers and views share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import faust

from casegold_escalation import metrics
from casegold_escalation.adapters.policies import PolicyStore
from casegold_escalation.consumer_lag import LagGauge
from casegold_escalation.due_index import DueIndex
from casegold_escalation.fetch import Feed
from casegold_escalation.lag import EndTimes, Progress
from casegold_escalation.ports import CaseStore, ResendGuard, Sender
from casegold_escalation.processor import CaseProcessor
from casegold_escalation.settings import EscalationSettings
from casegold_escalation.stall import StallWatch
from casegold_platform.clock import Clock
from casegold_platform.settings import KafkaSettings

# How the worker drives Faust (bench/faust_floor.py measures Faust alone with the same values).
FAUST_TUNING: dict[str, Any] = {
    "key_serializer": "raw",
    "value_serializer": "raw",
    "processing_guarantee": "at_least_once",
    "consumer_auto_offset_reset": "earliest",
    "broker_max_poll_records": 2000,
    "stream_buffer_maxsize": 8192,
    "producer_linger_ms": 2,
    "producer_max_batch_size": 256 * 1024,
    "producer_acks": -1,
    "broker_commit_interval": 1.0,
}

# This many failed messages in a row, with no success between them, make an agent "failing".
FAILING_STREAK = 3


def make_app(settings: EscalationSettings, kafka: KafkaSettings) -> faust.App:
    """The Faust app of one worker (RocksDB tables, at-least-once, HTTP views on its port)."""
    return faust.App(
        settings.app_id,
        broker=["kafka://" + server.strip() for server in kafka.bootstrap.split(",")],
        store="rocksdb://",
        datadir=str(settings.worker_dir),
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication_factor,
        # A standby replays another worker's changelog as it is written, so taking over its
        # partitions needs no cold recovery; with a single worker there is no one to place it.
        table_standby_replicas=settings.standby_replicas,
        **{
            **FAUST_TUNING,
            # Records fetched ahead of the agent wait, and a due step waits behind them
            # (decision 0033): these bound how far ahead the consumer reads.
            "broker_max_poll_records": settings.max_poll_records,
            "consumer_max_fetch_size": settings.fetch_partition_kb * 1024,
        },
        # A worker killed without leaving the group holds its partitions until the session
        # times out; Faust's default (60 s) alone would break "firing again within 60 s".
        # Heartbeats come from the consumer thread, so a busy event loop does not miss them.
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.heartbeat_interval,
        web_enabled=True,
        web_bind=settings.host,
        web_port=settings.port,
        web_host=settings.host,
        web_in_thread=False,
    )


def make_table(app: faust.App, name: str, settings: EscalationSettings, partitions: int) -> Any:
    """A RocksDB table of raw bytes, with the worker's per-partition memory bounds."""
    options = {
        "write_buffer_size": settings.rocksdb_write_buffer_mb * 1024 * 1024,
        "max_write_buffer_number": 2,
        "block_cache_size": settings.rocksdb_block_cache_mb * 1024 * 1024,
        "block_cache_compressed_size": 1024 * 1024,
        "max_open_files": 256,
    }
    return app.Table(name, partitions=partitions, key_type=bytes, value_type=bytes, options=options)


@dataclass(eq=False)
class Worker:
    """One worker process: the app with its topics and tables, and the state its parts share."""

    settings: EscalationSettings
    policies: PolicyStore
    clock: Clock
    app: faust.App
    # complaints.case-events and the ticks topic, read by the cases agent as one stream.
    source: Any
    customer_source: Any
    cases: Any
    customer_cases: Any
    processor: CaseProcessor
    send: Sender
    recent: ResendGuard
    # The tables' partitions and changelogs, written in batches by the agents (state.py).
    case_store: CaseStore
    customer_store: CaseStore
    index: DueIndex = field(default_factory=DueIndex)
    indexed_partitions: set[int] = field(default_factory=set)
    # Partitions revoked since the last index sync: their entries may be stale even if the
    # same partitions come back (another worker may have changed those cases meanwhile).
    revoked_since_sync: set[int] = field(default_factory=set)
    ready: bool = False
    # Tune the cyclic collector when first ready (timers.tune_gc); set by the served process.
    tune_gc: bool = False
    # The last case-events record the cases agent finished, per partition (see lag.py).
    progress: dict[int, Progress] = field(default_factory=dict)
    # When each case-events partition's fetched end was built, at the latest (see lag.py).
    end_times: EndTimes = field(default_factory=EndTimes)
    # The offset of the last tick the cases agent finished, per partition (flow control).
    tick_progress: dict[int, int] = field(default_factory=dict)
    # Consecutive failed messages per agent: an agent that fails on every message (a missing
    # changelog, a broken dependency) makes the worker unready instead of silently skipping.
    failing: dict[str, int] = field(default_factory=dict)
    # Due steps held behind unread events, as last counted (monotonic time of the count).
    held: int = 0
    held_counted: float = float("-inf")
    # The cases agent's ordered writes (set when the agent starts; see pipeline.py).
    pipeline: Any = None
    # The customers agent's write cache (set when it starts; see state.py).
    customer_writes: Any = None
    lag: LagGauge = field(default_factory=lambda: LagGauge(metrics.CONSUMER_LAG))
    # When the cases agent started the record it is on (None between records; stall.py).
    record_started: float | None = None
    stalls: StallWatch = field(default_factory=lambda: StallWatch(2.0))
    # The agents' records from the batch consumer, by agent name (fetch.py).
    feeds: dict[str, Feed] = field(default_factory=dict)

    async def ack(self, message: Any) -> None:
        """A source record is done with: its offset may be committed (contiguous acks)."""
        self.app.consumer.ack(message)

    def outcome(self, stage: str, ok: bool) -> None:
        """Note how an agent's last message went."""
        self.failing[stage] = 0 if ok else self.failing.get(stage, 0) + 1

    def checks(self) -> dict[str, bool]:
        """What /readyz answers: Kafka assigned, tables recovered, no agent failing throughout."""
        agents_ok = all(streak < FAILING_STREAK for streak in self.failing.values())
        return {"kafka": not self.app.rebalancing, "tables": self.ready, "agents": agents_ok}

    def assigned_partitions(self) -> set[int]:
        """The case-events partitions this worker owns now."""
        actives = self.app.assignor.assigned_actives()
        return {tp.partition for tp in actives if tp.topic == self.settings.case_events_topic}
