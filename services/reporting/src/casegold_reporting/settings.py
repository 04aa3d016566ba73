"""Typed settings of the reporting service, read from CASEGOLD_REPORTING_* environment variables."""

from __future__ import annotations

from typing import Final

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from casegold_contracts import CASE_EVENTS, ESCALATIONS
from casegold_platform.http import ApiKeySettings
from casegold_platform.settings import LogLevel

ENV_PREFIX: Final = "CASEGOLD_REPORTING_"


class ReportingSettings(ApiKeySettings):
    """Everything the reporting service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8084, ge=1, le=65535)
    case_events_topic: str = Field(CASE_EVENTS, min_length=1)
    escalations_topic: str = Field(ESCALATIONS, min_length=1)
    project: bool = Field(True, description="run the projector in this process")
    poll_max_records: int = Field(5_000, ge=1, le=100_000, description="records per batch")
    poll_timeout_ms: int = Field(50, ge=1, le=10_000, description="longest wait for a batch")
    state_cache_cases: int = Field(200_000, ge=0, le=10_000_000, description="case states kept")
    standby_retry_seconds: float = Field(2.0, gt=0, le=300, description="projector lock retry")
    projector_shards: int = Field(1, ge=1, le=64, description="projectors sharing the partitions")
    projector_shard: int = Field(0, ge=0, le=63, description="which of them this one is")
    metrics_refresh_seconds: float = Field(1.0, gt=0, le=300)
    pages_public: bool = Field(True, description="false: case pages need a key too")
    metrics_public: bool = Field(True, description="false: /metrics needs an ops or monitor key")
    page_size: int = Field(50, ge=1, le=500, description="default page of GET /v1/cases")
    migrate_on_start: bool = True
    shutdown_grace_seconds: float = Field(10.0, ge=0, le=300)
    log_level: LogLevel = "INFO"

    @model_validator(mode="after")
    def _shard_in_range(self) -> ReportingSettings:
        if self.projector_shard >= self.projector_shards:
            raise ValueError(
                "CASEGOLD_REPORTING_PROJECTOR_SHARD must be below "
                "CASEGOLD_REPORTING_PROJECTOR_SHARDS"
            )
        return self

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
        return value.upper()
