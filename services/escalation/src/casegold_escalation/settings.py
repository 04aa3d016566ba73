"""Settings of the escalation worker, from CASEGOLD_ESCALATION_* variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from casegold_contracts import CASE_EVENTS, ESCALATIONS
from casegold_platform.settings import ENV_PREFIX, LogLevel

_TOPIC = r"^[A-Za-z0-9._-]{1,200}$"


class EscalationSettings(BaseSettings):
    """How one escalation worker runs."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX + "ESCALATION_", extra="ignore")

    app_id: str = Field("casegold-escalation", pattern=r"^[a-z0-9][a-z0-9._-]{0,80}$")
    worker_name: str = Field("worker-1", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    host: str = "127.0.0.1"
    port: int = Field(8082, ge=1, le=65535, description="/healthz, /readyz and /metrics")
    data_dir: Path = Field(
        Path("var/escalation"), description="RocksDB tables, one folder a worker"
    )
    # The contract's topics; another name only to run a worker on topics of its own (tests).
    case_events_topic: str = Field(CASE_EVENTS, pattern=_TOPIC)
    escalations_topic: str = Field(ESCALATIONS, pattern=_TOPIC)
    tick_interval: float = Field(0.1, gt=0, le=10, description="seconds between due-index scans")
    tick_batch: int = Field(2000, ge=1, le=100_000, description="most ticks sent per scan")
    tick_retry: float = Field(5.0, gt=0, le=3600, description="re-tick a case after this many s")
    wait_for_unread: bool = Field(
        True,
        description="hold due steps while their partition has unread case events (decision 0033)",
    )
    retry_budget: float = Field(
        120.0,
        gt=0,
        le=3600,
        description="seconds a message is retried while a dependency fails before the worker stops",
    )
    closed_retention_days: float = Field(
        30.0,
        gt=0,
        le=3650,
        description="days a closed case is kept for a reopen, after its last event (0090)",
    )
    stall_seconds: float = Field(
        2.0,
        gt=0,
        le=300,
        description="seek back a partition whose unread records reach nothing this long (s)",
    )
    lag_interval: float = Field(
        5.0, gt=0, le=300, description="seconds between casegold_consumer_lag refreshes"
    )
    standby_replicas: int = Field(
        1,
        ge=0,
        le=3,
        description="workers keeping a warm copy of each table partition (Faust standbys)",
    )
    tune_gc: bool = Field(
        True,
        description="once first ready: freeze what start-up made and collect less often "
        "(the served process only; decision 0141)",
    )
    max_poll_records: int = Field(
        2000, ge=10, le=100_000, description="records one fetch hands the agent at most"
    )
    fetch_partition_kb: int = Field(
        1024, ge=16, le=65_536, description="KiB the consumer fetches ahead per partition at most"
    )
    fetch_wait_ms: int = Field(
        100,
        ge=10,
        le=1500,
        description="ms the broker holds a fetch with no new record: an idle partition's end "
        "is as old as this, and steps due wait for a newer one (decision 0143)",
    )
    rocksdb_write_buffer_mb: int = Field(8, ge=1, le=1024)
    rocksdb_block_cache_mb: int = Field(16, ge=1, le=4096)
    resend_guard_seconds: float = Field(
        300.0, ge=0, le=86_400, description="look-back on escalations when taking a partition"
    )
    session_timeout: float = Field(
        10.0,
        ge=6,
        le=300,
        description="seconds without a heartbeat before the group gives a worker's partitions away",
    )
    heartbeat_interval: float = Field(1.0, gt=0, le=60, description="seconds between heartbeats")
    log_level: LogLevel = "INFO"

    @model_validator(mode="after")
    def _heartbeat_within_session(self) -> EscalationSettings:
        if self.heartbeat_interval * 3 > self.session_timeout:
            raise ValueError("heartbeat_interval must be at most a third of session_timeout")
        return self

    @property
    def worker_dir(self) -> Path:
        return self.data_dir / self.worker_name

    # Internal topics belong to the app id, so two deployments on one broker never mix. Ticks
    # and customers are created with the platform's partition count: co-partitioned with
    # complaints.case-events.
    @property
    def ticks_topic(self) -> str:
        return f"{self.app_id}.ticks"

    @property
    def customers_topic(self) -> str:
        return f"{self.app_id}.customers"

    @property
    def policies_topic(self) -> str:
        return f"{self.app_id}.policies"
